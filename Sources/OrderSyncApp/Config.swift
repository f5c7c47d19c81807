import SyncCore
import TOMLKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The configuration (`config/ordersync.example.toml` documents every key): one `Decodable`
/// model, decoded from the TOML file by TOMLKit's decoder. Every default is the initial value of
/// its property here and nowhere else; `ORDERSYNC_<SECTION>_<KEY>` overrides the file; command-line
/// flags override both. Unknown sections and keys, wrong types and values out of range are errors
/// naming the file and key (or the variable).
public struct OrdersyncConfig: Sendable, Decodable {
    public var database = Database()
    public var origin = Origin()
    public var exchange = Exchange()
    public var reconcile = Reconcile()
    public var cancel = Cancel()
    public var webhook = Webhook()
    public var attribution = Attribution()
    public var alerts = Alerts()
    public var streams = Streams()

    public init() {}

    /// `[database]`
    public struct Database: Sendable, Decodable {
        /// `url` (or its older name `path`): a SQLite path or a `postgresql://` URL.
        public var url: String?
        /// The PostgreSQL pool's size.
        public var maxConnections = 4

        enum CodingKeys: String, CodingKey, CaseIterable {
            case url, path
            case maxConnections = "max_connections"
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            try c.read(&url, .path)
            try c.read(&url, .url)
            try c.read(&maxConnections, .maxConnections, within: 1...100)
        }
    }

    /// `[origin]`: the origin app's key settings, when not in its environment variables.
    public struct Origin: Sendable, Decodable {
        public var secretKey: String?
        public var accountsEncryptionKey: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case secretKey = "secret_key"
            case accountsEncryptionKey = "accounts_encryption_key"
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            try c.read(&secretKey, .secretKey)
            try c.read(&accountsEncryptionKey, .accountsEncryptionKey)
        }
    }

    /// `[exchange]`
    public struct Exchange: Sendable, Decodable {
        public var spotURL = "https://api.binance.com"
        public var futuresURL = "https://fapi.binance.com"
        /// For accounts with `is_testnet`.
        public var testnetSpotURL = "https://testnet.binance.vision"
        public var testnetFuturesURL = "https://demo-fapi.binance.com"
        /// Upbit's REST base URL (accounts with `exchange` upbit).
        public var upbitURL = "https://api.upbit.com"
        /// Requests per second per Upbit account (its `default` group allows 30).
        public var upbitRequestsPerSecond = 30
        /// Bithumb's REST base URL (accounts with `exchange` bithumb).
        public var bithumbURL = "https://api.bithumb.com"
        /// Requests per second per category from this address to Bithumb (it allows 140; batch cancels 20).
        public var bithumbRequestsPerSecond = 140
        /// The share of the exchange's request weight per minute a pass may use.
        public var weightBudget = 0.8
        public var recvWindowMs = 5000
        /// One exchange request's deadline (a listing slower than this fails; the pass goes on).
        public var requestTimeoutMs = 10_000
        /// HTTP connections per exchange host (a fan-out sends one request per account and symbol at once).
        public var maxConnections = 256
        /// User data streams (`serve`): spot's WebSocket API and USDⓈ-M futures' private stream.
        /// Unset: the real host's while the REST URL is the real host's, else the REST URL's host
        /// (`ws://` for `http://`) with Binance's paths, so a simulator's REST URL brings its streams.
        public var spotWSURL: String?
        public var futuresWSURL: String?
        public var testnetSpotWSURL: String?
        public var testnetFuturesWSURL: String?

        /// The stream URLs in effect (see `spotWSURL`).
        public var resolvedSpotWSURL: String {
            spotWSURL
                ?? Self.streamURL(rest: spotURL, real: Exchange().spotURL, realStream: "wss://ws-api.binance.com:443/ws-api/v3", path: "/ws-api/v3")
        }
        public var resolvedFuturesWSURL: String {
            futuresWSURL
                ?? Self.streamURL(
                    rest: futuresURL,
                    real: Exchange().futuresURL,
                    realStream: "wss://fstream.binance.com/private/ws",
                    path: "/private/ws"
                )
        }
        public var resolvedTestnetSpotWSURL: String {
            testnetSpotWSURL
                ?? Self.streamURL(
                    rest: testnetSpotURL,
                    real: Exchange().testnetSpotURL,
                    realStream: "wss://ws-api.testnet.binance.vision/ws-api/v3",
                    path: "/ws-api/v3"
                )
        }
        public var resolvedTestnetFuturesWSURL: String {
            testnetFuturesWSURL
                ?? Self.streamURL(
                    rest: testnetFuturesURL,
                    real: Exchange().testnetFuturesURL,
                    realStream: "wss://fstream.binancefuture.com/private/ws",
                    path: "/private/ws"
                )
        }

        static func streamURL(rest: String, real: String, realStream: String, path: String) -> String {
            if rest == real { return realStream }
            let ws = rest.hasPrefix("https://") ? "wss://" + rest.dropFirst("https://".count) : "ws://" + rest.dropFirst("http://".count)
            return ws + path
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case spotURL = "spot_url"
            case futuresURL = "futures_url"
            case testnetSpotURL = "testnet_spot_url"
            case testnetFuturesURL = "testnet_futures_url"
            case upbitURL = "upbit_url"
            case upbitRequestsPerSecond = "upbit_requests_per_second"
            case bithumbURL = "bithumb_url"
            case bithumbRequestsPerSecond = "bithumb_requests_per_second"
            case weightBudget = "weight_budget"
            case recvWindowMs = "recv_window_ms"
            case requestTimeoutMs = "request_timeout_ms"
            case maxConnections = "max_connections"
            case spotWSURL = "spot_ws_url"
            case futuresWSURL = "futures_ws_url"
            case testnetSpotWSURL = "testnet_spot_ws_url"
            case testnetFuturesWSURL = "testnet_futures_ws_url"
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            for (key, path) in [
                (CodingKeys.spotWSURL, \Self.spotWSURL), (.futuresWSURL, \.futuresWSURL), (.testnetSpotWSURL, \.testnetSpotWSURL),
                (.testnetFuturesWSURL, \.testnetFuturesWSURL),
            ] {
                try c.read(&self[keyPath: path], key)
                if let url = self[keyPath: path], !(url.hasPrefix("ws://") || url.hasPrefix("wss://")) {
                    throw ConfigProblem(decoder.codingPath + [ConfigKey(key)], "must be a ws(s) URL")
                }
            }
            for (key, path) in [
                (CodingKeys.spotURL, \Self.spotURL), (.futuresURL, \.futuresURL), (.testnetSpotURL, \.testnetSpotURL),
                (.testnetFuturesURL, \.testnetFuturesURL), (.upbitURL, \.upbitURL), (.bithumbURL, \.bithumbURL),
            ] {
                try c.normalised(&self[keyPath: path], key, OrdersyncConfig.baseURL)
            }
            try c.read(&weightBudget, .weightBudget) { $0 > 0 && $0 <= 1 ? nil : "must be in (0, 1]" }
            try c.read(&upbitRequestsPerSecond, .upbitRequestsPerSecond, within: 1...30)
            try c.read(&bithumbRequestsPerSecond, .bithumbRequestsPerSecond, within: 1...140)
            try c.read(&recvWindowMs, .recvWindowMs, within: 1...60_000)
            try c.read(&requestTimeoutMs, .requestTimeoutMs, within: 100...120_000)
            try c.read(&maxConnections, .maxConnections, within: 1...4096)
        }
    }

    /// `[reconcile]`
    public struct Reconcile: Sendable, Decodable {
        /// From the start of one scheduled pass to the start of the next.
        public var intervalSeconds = 30.0
        /// Orders and rows younger than this are in flight.
        public var graceMs: Millis = 10_000
        /// Consecutive misses on complete listings before a row is queried.
        public var confirmations = 3
        /// Targeted order queries per account and market per pass.
        public var maxQueriesPerPass = 10
        /// Accounts reconciled at once.
        public var parallelism = 16
        /// A full no-symbol listing at least every this many passes per account-market.
        public var sweepEvery = 10
        /// The share of the interval over which a scheduled pass staggers its accounts.
        public var spread = 0.5
        /// `serve` with streams: an account whose every stream is healthy is reconciled by a scheduled
        /// pass at most this often (its events keep it true in between; a gap resyncs it at once).
        public var streamIntervalSeconds = 300.0

        enum CodingKeys: String, CodingKey, CaseIterable {
            case intervalSeconds = "interval_seconds"
            case graceMs = "grace_ms"
            case confirmations
            case maxQueriesPerPass = "max_queries_per_pass"
            case parallelism
            case sweepEvery = "sweep_every"
            case spread
            case streamIntervalSeconds = "stream_interval_seconds"
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            try c.read(&intervalSeconds, .intervalSeconds) { $0 > 0 ? nil : "must be positive" }
            try c.read(&graceMs, .graceMs) { $0 >= 0 ? nil : "must not be negative" }
            try c.read(&confirmations, .confirmations, atLeast: 1)
            try c.read(&maxQueriesPerPass, .maxQueriesPerPass, atLeast: 0)
            try c.read(&parallelism, .parallelism, atLeast: 1)
            try c.read(&sweepEvery, .sweepEvery, atLeast: 1)
            try c.read(&spread, .spread) { (0...1).contains($0) ? nil : "must be between 0 and 1" }
            try c.read(&streamIntervalSeconds, .streamIntervalSeconds) { $0 > 0 ? nil : "must be positive" }
        }
    }

    /// `[streams]`: the exchanges' user data streams in `serve`.
    public struct Streams: Sendable, Decodable {
        /// Follow every account's order events (Binance spot and futures); passes stay the safety net.
        public var enabled = true
        /// How often the accounts to follow are read again: an account added, deactivated or
        /// given new keys while `serve` runs is followed (or let go) within this.
        public var refreshSeconds = 30.0

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled
            case refreshSeconds = "refresh_seconds"
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            try c.read(&enabled, .enabled) { _ in nil }
            try c.read(&refreshSeconds, .refreshSeconds) { $0 > 0 ? nil : "must be positive" }
        }
    }

    /// `[cancel]`
    public struct Cancel: Sendable, Decodable {
        /// Accounts cancelled at once by a strategy-scoped cancel.
        public var parallelism = 128

        enum CodingKeys: String, CodingKey, CaseIterable { case parallelism }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            try ConfigSection<CodingKeys>(decoder).read(&parallelism, .parallelism, atLeast: 1)
        }
    }

    /// `[webhook]`
    public struct Webhook: Sendable, Decodable {
        /// `HOST:PORT` (port 0 picks a free one).
        public var listen = "127.0.0.1:8080"
        public var ratePerSecond = 10.0
        public var burst = 20
        /// How far a payload's `timestamp` may lag behind the clock.
        public var maxLagMs: Millis = 60_000

        enum CodingKeys: String, CodingKey, CaseIterable {
            case listen
            case ratePerSecond = "rate_per_second"
            case burst
            case maxLagMs = "max_lag_ms"
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            try c.read(&listen, .listen) { OrdersyncConfig.listenAddress($0) == nil ? "must be HOST:PORT, e.g. 127.0.0.1:8080" : nil }
            try c.read(&ratePerSecond, .ratePerSecond) { $0 > 0 ? nil : "must be positive" }
            try c.read(&burst, .burst, atLeast: 1)
            try c.read(&maxLagMs, .maxLagMs) { $0 >= 1 ? nil : "must be at least 1" }
        }
    }

    /// `[attribution]`
    public struct Attribution: Sendable, Decodable {
        /// The prefix of ordersync's client-order-id tags.
        public var tagPrefix = "os1"
        /// A placeholder row matches an order placed from this long before its `created_at`…
        public var placeholderBeforeMs: Millis = 10_000
        /// …to this long after it (issue #12).
        public var placeholderAfterMs: Millis = 60_000
        /// `[[attribution.conventions]]`: foreign client-order-id conventions (a regex with a `link` group).
        public var conventions: [Convention] = []
        /// `[[attribution.claims]]`: operator claims (at most one link per account and symbol).
        public var claims: [OperatorClaim] = []

        enum CodingKeys: String, CodingKey, CaseIterable {
            case tagPrefix = "tag_prefix"
            case placeholderBeforeMs = "placeholder_before_ms"
            case placeholderAfterMs = "placeholder_after_ms"
            case conventions, claims
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            try c.read(&tagPrefix, .tagPrefix) { (try? ClientOrderTagCodec(prefix: $0)) == nil ? "must be 1–8 letters or digits" : nil }
            try c.read(&placeholderBeforeMs, .placeholderBeforeMs) { (0...600_000).contains($0) ? nil : "must be 0 to 600000" }
            try c.read(&placeholderAfterMs, .placeholderAfterMs) { (0...600_000).contains($0) ? nil : "must be 0 to 600000" }
            conventions = try c.list(.conventions)
            claims = try c.list(.claims, as: ClaimEntry.self).map(\.claim)
        }
    }

    /// `[alerts]`: where `serve` tells the operator (issue #17). Telegram's token and chat default to
    /// the origin's `TELEGRAM_BOT_TOKEN` and `TELEGRAM_CHAT_ID`; users with `users.telegram_id` get
    /// the alerts of their own accounts too.
    public struct Alerts: Sendable, Decodable {
        /// The bot that sends to `telegram_chat_id` (and to users without a bot of their own).
        public var telegramBotToken: String?
        /// The operator's chat: every alert.
        public var telegramChatID: String?
        /// The Bot API's base URL.
        public var telegramURL = "https://api.telegram.org"
        /// Also tell each user with `users.telegram_id` about their own accounts.
        public var telegramPerUser = true
        /// A JSON receiver: each alert POSTed, its body signed (`X-Ordersync-Signature: sha256=<hex HMAC>`).
        public var webhookURL: String?
        /// The HMAC-SHA256 key of the signature (required with `webhook_url`).
        public var webhookSecret: String?
        /// Passes in a row a row must stay unresolved before it is alerted.
        public var unresolvedPasses = 3
        /// Passes in a row an account's listing must fail before it is alerted.
        public var failingPasses = 3
        /// Messages per minute per sink (beyond that they wait their turn).
        public var perMinute = 20
        /// Attempts per alert and sink before it is marked failed.
        public var maxAttempts = 5
        /// The first retry's delay; each next one doubles it (at most a minute).
        public var retryBackoffMs: Millis = 2_000
        /// Each attempt's deadline.
        public var timeoutMs = 10_000
        /// Alerts waiting per sink; beyond that they are recorded as dropped.
        public var queueLimit = 1_000

        enum CodingKeys: String, CodingKey, CaseIterable {
            case telegramBotToken = "telegram_bot_token"
            case telegramChatID = "telegram_chat_id"
            case telegramURL = "telegram_url"
            case telegramPerUser = "telegram_per_user"
            case webhookURL = "webhook_url"
            case webhookSecret = "webhook_secret"
            case unresolvedPasses = "unresolved_passes"
            case failingPasses = "failing_passes"
            case perMinute = "per_minute"
            case maxAttempts = "max_attempts"
            case retryBackoffMs = "retry_backoff_ms"
            case timeoutMs = "timeout_ms"
            case queueLimit = "queue_limit"
        }
        public init() {}
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try ConfigSection<CodingKeys>(decoder)
            try c.read(&telegramBotToken, .telegramBotToken)
            try c.read(&telegramChatID, .telegramChatID)
            try c.normalised(&telegramURL, .telegramURL) { OrdersyncConfig.baseURL(&$0) }
            try c.read(&telegramPerUser, .telegramPerUser) { _ in nil }
            var url = ""
            try c.normalised(&url, .webhookURL) { OrdersyncConfig.baseURL(&$0) }
            if !url.isEmpty { webhookURL = url }
            try c.read(&webhookSecret, .webhookSecret)
            if webhookURL != nil && (webhookSecret ?? "").isEmpty {
                throw c.problem(.webhookSecret, "is required with webhook_url (the receiver checks the signature with it)")
            }
            try c.read(&unresolvedPasses, .unresolvedPasses, atLeast: 1)
            try c.read(&failingPasses, .failingPasses, atLeast: 1)
            try c.read(&perMinute, .perMinute, within: 1...600)
            try c.read(&maxAttempts, .maxAttempts, within: 1...20)
            try c.read(&retryBackoffMs, .retryBackoffMs) { (1...600_000).contains($0) ? nil : "must be 1 to 600000" }
            try c.read(&timeoutMs, .timeoutMs, within: 100...120_000)
            try c.read(&queueLimit, .queueLimit, within: 1...100_000)
        }
    }

    /// One `[[attribution.conventions]]` table.
    public struct Convention: Sendable, Decodable, Equatable {
        public var name: String
        public var pattern: String

        public init(name: String, pattern: String) {
            self.name = name
            self.pattern = pattern
        }
        enum CodingKeys: String, CodingKey, CaseIterable { case name, pattern }
        public init(from decoder: any Decoder) throws {
            let c = try ConfigSection<CodingKeys>(decoder, needs: "needs exactly name and pattern (strings)")
            name = try c.required(String.self, .name)
            pattern = try c.required(String.self, .pattern)
            do { _ = try ForeignTagConvention(name: name, pattern: pattern) } catch { throw ConfigProblem(decoder.codingPath, "\(error)") }
        }
    }

    /// One `[[attribution.claims]]` table.
    struct ClaimEntry: Decodable {
        var claim: OperatorClaim
        enum CodingKeys: String, CodingKey, CaseIterable {
            case accountID = "account_id"
            case symbol, side
            case link = "strategy_account_id"
        }
        init(from decoder: any Decoder) throws {
            let c = try ConfigSection<CodingKeys>(decoder, needs: "needs account_id, symbol, strategy_account_id (and optionally side)")
            let account = try c.required(Int64.self, .accountID)
            let symbol = try c.required(String.self, .symbol)
            let link = try c.required(Int64.self, .link)
            guard account > 0, link > 0 else {
                throw ConfigProblem(decoder.codingPath, "needs account_id, symbol, strategy_account_id (and optionally side)")
            }
            var side: String?
            try c.read(&side, .side)
            var parsed: Side?
            if let side {
                guard let s = Side(parsing: side) else { throw ConfigProblem(decoder.codingPath + [ConfigKey(CodingKeys.side)], "BUY or SELL") }
                parsed = s
            }
            claim = OperatorClaim(account: AccountID(account), symbol: symbol.uppercased(), side: parsed, link: StrategyLinkID(link))
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case database, origin, exchange, reconcile, cancel, webhook, attribution, alerts, streams
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try ConfigSection<CodingKeys>(decoder, unknown: "unknown section")
        try c.section(&database, .database)
        try c.section(&origin, .origin)
        try c.section(&exchange, .exchange)
        try c.section(&reconcile, .reconcile)
        try c.section(&cancel, .cancel)
        try c.section(&webhook, .webhook)
        try c.section(&attribution, .attribution)
        try c.section(&alerts, .alerts)
        try c.section(&streams, .streams)
    }

    /// Every scalar key the environment may set, as `section.key` (lists are the file's only).
    static let environmentKeys: [(section: String, keys: [String])] = [
        ("database", Database.CodingKeys.allCases.map(\.stringValue)),
        ("origin", Origin.CodingKeys.allCases.map(\.stringValue)),
        ("exchange", Exchange.CodingKeys.allCases.map(\.stringValue)),
        ("reconcile", Reconcile.CodingKeys.allCases.map(\.stringValue)),
        ("cancel", Cancel.CodingKeys.allCases.map(\.stringValue)),
        ("webhook", Webhook.CodingKeys.allCases.map(\.stringValue)),
        ("attribution", Attribution.CodingKeys.allCases.filter { $0 != .conventions && $0 != .claims }.map(\.stringValue)),
        ("alerts", Alerts.CodingKeys.allCases.map(\.stringValue)),
        ("streams", Streams.CodingKeys.allCases.map(\.stringValue)),
    ]

    /// `HOST:PORT` (port 0 picks a free one).
    public static func listenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty else { return nil }
        return (host, port)
    }

    /// An exchange base URL: http(s), kept without a trailing slash.
    static func baseURL(_ url: inout String) -> String? {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { return "must be an http(s) URL" }
        if url.hasSuffix("/") { url.removeLast() }
        return nil
    }

    /// Reads `path` (nil: defaults only), then the environment's `ORDERSYNC_<SECTION>_<KEY>`.
    public static func load(path: String?, environment: [String: String]) throws(AppError) -> OrdersyncConfig {
        let file = path ?? "(defaults)"
        var table = TOMLTable()
        if let path {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw AppError("\(path): cannot read the file") }
            do {
                table = try TOMLTable(string: text)
            } catch let error as TOMLParseError {
                throw AppError("\(path): line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
            } catch {
                throw AppError("\(path): not valid TOML")
            }
        }
        // The environment's values join the file's table as text; the decoder parses them with
        // the key's own type (a numeric-looking secret stays a string).
        var fromEnvironment: [String: String] = [:]
        for (section, keys) in environmentKeys {
            for key in keys {
                let name = "ORDERSYNC_\(section.uppercased())_\(key.uppercased())"
                guard environment[name] != nil else { continue }
                fromEnvironment["\(section).\(key)"] = name
            }
        }
        // A section the file gives as something else than a table keeps its error.
        for (section, _) in environmentKeys
        where fromEnvironment.keys.contains(where: { $0.hasPrefix(section + ".") }) && (table[section] == nil || table[section]?.table != nil) {
            let merged = TOMLTable()
            if let existing = table[section]?.table {
                for (key, value) in existing { merged[key] = value }
            }
            for (path, name) in fromEnvironment where path.hasPrefix(section + ".") {
                merged[String(path.dropFirst(section.count + 1))] = environment[name]
            }
            table[section] = merged
        }
        var decoder = TOMLDecoder()
        decoder.userInfo[ConfigSection<CodingKeys>.environmentPaths] = Set(fromEnvironment.keys)
        do {
            return try decoder.decode(OrdersyncConfig.self, from: table)
        } catch let problem as ConfigProblem {
            if let name = fromEnvironment[problem.path] {
                let raw = environment[name] ?? ""
                throw AppError(problem.typeMismatch ? "\(name)=\(raw): \(problem.message)" : "\(name): \(problem.message)")
            }
            throw AppError("\(file): \(problem.path): \(problem.message)")
        } catch {
            throw AppError("\(file): \(error)")
        }
    }
}

/// A key anywhere in the file (sections, keys, list positions).
struct ConfigKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }
    init(_ key: some CodingKey) { self.init(stringValue: key.stringValue) }
}

/// What is wrong with one key: `path` is `section.key` or `section.key[i]`.
struct ConfigProblem: Error {
    var path: String
    var message: String
    /// The value has the wrong type (the message for a variable then quotes it).
    var typeMismatch = false

    init(_ codingPath: [any CodingKey], _ message: String, typeMismatch: Bool = false) {
        self.path = Self.path(codingPath)
        self.message = message
        self.typeMismatch = typeMismatch
    }

    /// `section.key`, `section.key[i]`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let i = key.intValue {
                path += "[\(i)]"
            } else {
                path += (path.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return path
    }
}

/// A value a key may hold: decoded from its TOML type, or parsed from a variable's text.
protocol ConfigScalar: Decodable {
    init?(configText: String)
    static var expected: String { get }
}
extension String: ConfigScalar {
    init?(configText: String) { self = configText }
    static var expected: String { "a string" }
}
extension Int: ConfigScalar {
    init?(configText: String) { self.init(configText) }
    static var expected: String { "an integer" }
}
extension Int64: ConfigScalar {
    init?(configText: String) { self.init(configText) }
    static var expected: String { "an integer" }
}
extension Bool: ConfigScalar {
    init?(configText: String) {
        switch configText.lowercased() {
        case "true", "1", "yes": self = true
        case "false", "0", "no": self = false
        default: return nil
        }
    }
    static var expected: String { "true or false" }
}
extension Double: ConfigScalar {
    init?(configText: String) { self.init(configText) }
    static var expected: String { "a number" }
}

/// One table of the file: refuses keys it does not know (naming the ones it does) and reads each
/// known key with its type and its check.
struct ConfigSection<Key: CodingKey & CaseIterable> {
    static var environmentPaths: CodingUserInfoKey { CodingUserInfoKey(rawValue: "ordersync.environment")! }
    let container: KeyedDecodingContainer<Key>
    let codingPath: [any CodingKey]
    let environment: Set<String>
    let needs: String?

    /// `needs`: the message for a table missing a required key.
    init(_ decoder: any Decoder, unknown: String = "unknown key", needs: String? = nil) throws {
        codingPath = decoder.codingPath
        environment = decoder.userInfo[Self.environmentPaths] as? Set<String> ?? []
        let known = Key.allCases.map(\.stringValue)
        let all: KeyedDecodingContainer<ConfigKey>
        do { all = try decoder.container(keyedBy: ConfigKey.self) } catch { throw ConfigProblem(codingPath, "expected a table", typeMismatch: true) }
        for key in all.allKeys.map(\.stringValue).sorted() where !known.contains(key) {
            throw ConfigProblem(codingPath + [ConfigKey(stringValue: key)], "\(needs ?? unknown) (known: \(known.sorted().joined(separator: ", ")))")
        }
        container = try decoder.container(keyedBy: Key.self)
        self.needs = needs
    }

    func problem(_ key: Key, _ message: String, typeMismatch: Bool = false) -> ConfigProblem {
        ConfigProblem(codingPath + [ConfigKey(key)], message, typeMismatch: typeMismatch)
    }

    /// The key's value, if present; a variable's text is parsed as `T`.
    func value<T: ConfigScalar>(_ type: T.Type, _ key: Key) throws -> T? {
        guard container.contains(key) else { return nil }
        let path = ConfigProblem.path(codingPath + [ConfigKey(key)])
        if environment.contains(path), let text = try? container.decode(String.self, forKey: key) {
            guard let value = T(configText: text) else { throw problem(key, "expected \(T.expected)", typeMismatch: true) }
            return value
        }
        if let value = try? container.decode(T.self, forKey: key) { return value }
        // A whole number where a number is expected (`interval_seconds = 30`).
        if T.self == Double.self, let whole = try? container.decode(Int.self, forKey: key) { return Double(whole) as? T }
        throw problem(key, "expected \(T.expected)", typeMismatch: true)
    }

    /// Sets `target` from the key when present, after `normalise` (a message when the value is wrong).
    func normalised<T: ConfigScalar>(_ target: inout T, _ key: Key, _ normalise: (inout T) -> String?) throws {
        guard var value = try value(T.self, key) else { return }
        if let message = normalise(&value) { throw problem(key, message) }
        target = value
    }

    /// Sets `target` from the key when present and `check` finds nothing wrong with it.
    func read<T: ConfigScalar>(_ target: inout T, _ key: Key, _ check: (T) -> String?) throws {
        try normalised(&target, key) { check($0) }
    }

    func read<T: ConfigScalar>(_ target: inout T?, _ key: Key) throws {
        if let value = try value(T.self, key) { target = value }
    }

    func read(_ target: inout Int, _ key: Key, within range: ClosedRange<Int>) throws {
        try read(&target, key) { range.contains($0) ? nil : "must be \(range.lowerBound) to \(range.upperBound)" }
    }

    func read(_ target: inout Int, _ key: Key, atLeast minimum: Int) throws {
        try read(&target, key) { $0 >= minimum ? nil : minimum == 0 ? "must not be negative" : "must be at least \(minimum)" }
    }

    func required<T: ConfigScalar>(_ type: T.Type, _ key: Key) throws -> T {
        guard let value = try value(type, key) else { throw ConfigProblem(codingPath, needs ?? "\(key.stringValue) is required") }
        return value
    }

    /// A sub-table.
    func section<T: Decodable>(_ target: inout T, _ key: Key) throws {
        guard container.contains(key) else { return }
        target = try container.decode(T.self, forKey: key)
    }

    /// An array of tables (`[[section.key]]`).
    func list<T: Decodable>(_ key: Key, as type: T.Type = T.self) throws -> [T] {
        guard container.contains(key) else { return [] }
        let items: [T]
        do {
            items = try container.decode([T].self, forKey: key)
        } catch let problem as ConfigProblem {
            throw problem
        } catch {
            throw self.problem(key, "expected an array of tables ([[\(ConfigProblem.path(codingPath + [ConfigKey(key)]))]])", typeMismatch: true)
        }
        return items
    }
}
