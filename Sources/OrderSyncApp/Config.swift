import SyncCore
import TOMLKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The configuration file (`config/ordersync.example.toml` documents every key). Each key has a
/// default; `ORDERSYNC_<SECTION>_<KEY>` overrides the file; command-line flags override both.
/// Unknown keys and wrong types are errors naming the key.
public struct OrdersyncConfig: Sendable {
    /// `[database] url` (or its older name `path`): a SQLite path or a `postgresql://` URL.
    public var databasePath: String?
    public var databaseMaxConnections = 4
    /// `[origin] secret_key` / `accounts_encryption_key`: the origin app's key settings, when not in the environment.
    public var originSecretKey: String?
    public var originEncryptionKey: String?
    public var spotURL = "https://api.binance.com"
    public var futuresURL = "https://fapi.binance.com"
    public var testnetSpotURL = "https://testnet.binance.vision"
    public var testnetFuturesURL = "https://demo-fapi.binance.com"
    public var weightBudget = 0.8
    public var recvWindowMs = 5000
    public var intervalSeconds = 30.0
    public var graceMs: Millis = 10_000
    public var confirmations = 3
    public var maxQueriesPerPass = 10
    public var parallelism = 16
    public var sweepEvery = 10
    public var cancelParallelism = 128
    public var maxConnections = 256
    public var requestTimeoutMs = 10_000
    public var webhookListen = "127.0.0.1:8080"
    public var webhookRatePerSecond = 10.0
    public var webhookBurst = 20
    public var webhookMaxLagMs: Millis = 60_000
    public var spread = 0.5
    public var tagPrefix = "os1"
    /// How close a placeholder row's creation must be to its order's time (issue #12).
    public var placeholderBeforeMs: Millis = 10_000
    public var placeholderAfterMs: Millis = 60_000
    public var conventions: [(name: String, pattern: String)] = []
    public var claims: [OperatorClaim] = []

    public init() {}

    enum Kind { case string, int, double }

    /// The scalar keys: section, key, type, and where the value goes.
    static let scalars: [(section: String, key: String, kind: Kind, set: @Sendable (inout OrdersyncConfig, Any) -> String?)] = [
        (
            "database", "url", .string,
            { c, v in
                c.databasePath = v as? String
                return nil
            }
        ),
        (
            "database", "path", .string,
            { c, v in
                c.databasePath = v as? String
                return nil
            }
        ),
        ("database", "max_connections", .int, { c, v in within(v, 1...100) { c.databaseMaxConnections = $0 } }),
        (
            "origin", "secret_key", .string,
            { c, v in
                c.originSecretKey = v as? String
                return nil
            }
        ),
        (
            "origin", "accounts_encryption_key", .string,
            { c, v in
                c.originEncryptionKey = v as? String
                return nil
            }
        ),
        ("exchange", "spot_url", .string, { c, v in url(v, &c.spotURL) }),
        ("exchange", "futures_url", .string, { c, v in url(v, &c.futuresURL) }),
        ("exchange", "testnet_spot_url", .string, { c, v in url(v, &c.testnetSpotURL) }),
        ("exchange", "testnet_futures_url", .string, { c, v in url(v, &c.testnetFuturesURL) }),
        (
            "exchange", "weight_budget", .double,
            { c, v in
                let d = v as! Double
                guard d > 0 && d <= 1 else { return "must be in (0, 1]" }
                c.weightBudget = d
                return nil
            }
        ),
        ("exchange", "recv_window_ms", .int, { c, v in within(v, 1...60_000) { c.recvWindowMs = $0 } }),
        ("exchange", "request_timeout_ms", .int, { c, v in within(v, 100...120_000) { c.requestTimeoutMs = $0 } }),
        ("exchange", "max_connections", .int, { c, v in within(v, 1...4096) { c.maxConnections = $0 } }),
        ("reconcile", "interval_seconds", .double, { c, v in positive(v) { c.intervalSeconds = $0 } }),
        ("reconcile", "grace_ms", .int, { c, v in nonNegative(v) { c.graceMs = Millis($0) } }),
        ("reconcile", "confirmations", .int, { c, v in atLeastOne(v) { c.confirmations = $0 } }),
        ("reconcile", "max_queries_per_pass", .int, { c, v in nonNegative(v) { c.maxQueriesPerPass = $0 } }),
        ("reconcile", "parallelism", .int, { c, v in atLeastOne(v) { c.parallelism = $0 } }),
        ("reconcile", "sweep_every", .int, { c, v in atLeastOne(v) { c.sweepEvery = $0 } }),
        (
            "reconcile", "spread", .double,
            { c, v in
                let d = v as! Double
                guard (0...1).contains(d) else { return "must be between 0 and 1" }
                c.spread = d
                return nil
            }
        ),
        ("cancel", "parallelism", .int, { c, v in atLeastOne(v) { c.cancelParallelism = $0 } }),
        (
            "webhook", "listen", .string,
            { c, v in
                let s = v as! String
                guard listenAddress(s) != nil else { return "must be HOST:PORT, e.g. 127.0.0.1:8080" }
                c.webhookListen = s
                return nil
            }
        ),
        ("webhook", "rate_per_second", .double, { c, v in positive(v) { c.webhookRatePerSecond = $0 } }),
        ("webhook", "burst", .int, { c, v in atLeastOne(v) { c.webhookBurst = $0 } }),
        ("webhook", "max_lag_ms", .int, { c, v in atLeastOne(v) { c.webhookMaxLagMs = Millis($0) } }),
        (
            "attribution", "tag_prefix", .string,
            { c, v in
                let s = v as! String
                guard (try? ClientOrderTagCodec(prefix: s)) != nil else { return "must be 1–8 letters or digits" }
                c.tagPrefix = s
                return nil
            }
        ),
        ("attribution", "placeholder_before_ms", .int, { c, v in within(v, 0...600_000) { c.placeholderBeforeMs = Millis($0) } }),
        ("attribution", "placeholder_after_ms", .int, { c, v in within(v, 0...600_000) { c.placeholderAfterMs = Millis($0) } }),
    ]

    /// `HOST:PORT` (port 0 picks a free one).
    public static func listenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty else { return nil }
        return (host, port)
    }

    static func url(_ v: Any, _ target: inout String) -> String? {
        let s = v as! String
        guard s.hasPrefix("http://") || s.hasPrefix("https://") else { return "must be an http(s) URL" }
        target = s.hasSuffix("/") ? String(s.dropLast()) : s
        return nil
    }
    static func positive(_ v: Any, _ set: (Double) -> Void) -> String? {
        let d = v as! Double
        guard d > 0 else { return "must be positive" }
        set(d)
        return nil
    }
    static func within(_ v: Any, _ range: ClosedRange<Int>, _ set: (Int) -> Void) -> String? {
        let i = v as! Int
        guard range.contains(i) else { return "must be \(range.lowerBound) to \(range.upperBound)" }
        set(i)
        return nil
    }
    static func nonNegative(_ v: Any, _ set: (Int) -> Void) -> String? {
        let i = v as! Int
        guard i >= 0 else { return "must not be negative" }
        set(i)
        return nil
    }
    static func atLeastOne(_ v: Any, _ set: (Int) -> Void) -> String? {
        let i = v as! Int
        guard i >= 1 else { return "must be at least 1" }
        set(i)
        return nil
    }

    /// Reads `path` (nil: defaults only), then the environment.
    public static func load(path: String?, environment: [String: String]) throws(AppError) -> OrdersyncConfig {
        var config = OrdersyncConfig()
        if let path {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw AppError("\(path): cannot read the file") }
            let table: TOMLTable
            do {
                table = try TOMLTable(string: text)
            } catch let error as TOMLParseError {
                throw AppError("\(path): line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
            } catch {
                throw AppError("\(path): not valid TOML")
            }
            try config.apply(table, file: path)
        }
        for entry in scalars {
            let name = "ORDERSYNC_\(entry.section.uppercased())_\(entry.key.uppercased())"
            guard let raw = environment[name] else { continue }
            let value: Any?
            switch entry.kind {
            case .string: value = raw
            case .int: value = Int(raw)
            case .double: value = Double(raw)
            }
            guard let value else { throw AppError("\(name)=\(raw): expected \(entry.kind == .int ? "an integer" : "a number")") }
            if let problem = entry.set(&config, value) { throw AppError("\(name): \(problem)") }
        }
        return config
    }

    mutating func apply(_ table: TOMLTable, file: String) throws(AppError) {
        let sections = Set(Self.scalars.map(\.section))
        for sectionName in table.keys {
            guard sections.contains(sectionName), let section = table[sectionName]?.table else {
                throw AppError("\(file): \(sectionName): unknown section (known: \(sections.sorted().joined(separator: ", ")))")
            }
            for key in section.keys {
                let path = "\(sectionName).\(key)"
                if sectionName == "attribution" && (key == "conventions" || key == "claims") {
                    try applyList(section[key], key: key, file: file)
                    continue
                }
                guard let entry = Self.scalars.first(where: { $0.section == sectionName && $0.key == key }) else {
                    let known =
                        Self.scalars.filter { $0.section == sectionName }.map(\.key)
                        + (sectionName == "attribution" ? ["conventions", "claims"] : [])
                    throw AppError("\(file): \(path): unknown key (known: \(known.sorted().joined(separator: ", ")))")
                }
                let raw = section[key]
                let value: Any?
                switch entry.kind {
                case .string: value = raw?.string
                case .int: value = raw?.int
                case .double: value = raw?.double ?? raw?.int.map(Double.init)
                }
                guard let value else {
                    throw AppError(
                        "\(file): \(path): expected \(entry.kind == .string ? "a string" : entry.kind == .int ? "an integer" : "a number")"
                    )
                }
                if let problem = entry.set(&self, value) { throw AppError("\(file): \(path): \(problem)") }
            }
        }
    }

    mutating func applyList(_ raw: (any TOMLValueConvertible)?, key: String, file: String) throws(AppError) {
        guard let array = raw?.array else { throw AppError("\(file): attribution.\(key): expected an array of tables ([[attribution.\(key)]])") }
        for (i, item) in array.enumerated() {
            let path = "attribution.\(key)[\(i)]"
            guard let t = item.table else { throw AppError("\(file): \(path): expected a table") }
            if key == "conventions" {
                guard let name = t["name"]?.string, let pattern = t["pattern"]?.string, t.keys.count == 2 else {
                    throw AppError("\(file): \(path): needs exactly name and pattern (strings)")
                }
                do { _ = try ForeignTagConvention(name: name, pattern: pattern) } catch { throw AppError("\(file): \(path): \(error)") }
                conventions.append((name, pattern))
            } else {
                guard let account = t["account_id"]?.int, let symbol = t["symbol"]?.string, let link = t["strategy_account_id"]?.int,
                    account > 0, link > 0, Set(t.keys).isSubset(of: ["account_id", "symbol", "side", "strategy_account_id"])
                else {
                    throw AppError("\(file): \(path): needs account_id, symbol, strategy_account_id (and optionally side)")
                }
                var side: Side?
                if let text = t["side"]?.string {
                    guard let s = Side(parsing: text) else { throw AppError("\(file): \(path).side: BUY or SELL") }
                    side = s
                } else if t["side"] != nil {
                    throw AppError("\(file): \(path).side: BUY or SELL")
                }
                claims.append(
                    OperatorClaim(account: AccountID(Int64(account)), symbol: symbol.uppercased(), side: side, link: StrategyLinkID(Int64(link)))
                )
            }
        }
    }
}
