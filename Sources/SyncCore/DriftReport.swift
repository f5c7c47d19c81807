#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Counts of findings by kind. JSON keys are the `FindingKind` raw values.
public struct FindingCounts: Sendable, Hashable, Codable {
    /// One count per kind, in `FindingKind.allCases` order (dense, so equal counts are equal values).
    private var counts = [Int](repeating: 0, count: FindingKind.allCases.count)
    private static let position = Dictionary(uniqueKeysWithValues: FindingKind.allCases.enumerated().map { ($1, $0) })

    public init() {}
    public init(_ findings: [Finding]) {
        for f in findings { self[f.kind] += 1 }
    }

    public subscript(kind: FindingKind) -> Int {
        get { counts[Self.position[kind]!] }
        set { counts[Self.position[kind]!] = newValue }
    }

    public static func + (a: FindingCounts, b: FindingCounts) -> FindingCounts {
        var sum = a
        for kind in FindingKind.allCases { sum[kind] += b[kind] }
        return sum
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyCodingKey.self)
        for kind in FindingKind.allCases {
            self[kind] = try c.decodeIfPresent(Int.self, forKey: AnyCodingKey(kind.rawValue)) ?? 0
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        for kind in FindingKind.allCases { try c.encode(self[kind], forKey: AnyCodingKey(kind.rawValue)) }
    }
}

/// A finding as reported (JSON field names are the schema documented in the README).
public struct ReportFinding: Sendable, Hashable, Codable {
    public var kind: FindingKind
    public var exchangeOrderID: String?
    public var clientOrderID: String?
    public var symbol: String?
    public var side: Side?
    public var strategyAccountID: StrategyLinkID?
    /// The owning strategy's `group_name`.
    public var strategy: String?
    public var openOrderID: OpenOrderRowID?
    public var orderType: String?
    public var price: String?
    public var quantity: String?
    public var filled: String?
    /// Age of the order (or its row) when the decision was made, ms.
    public var ageMs: Int64?
    /// What the pass decided to do about it (`row updated`, `row closed FILLED`, `row inserted`,
    /// `orphan registered`, `orphan reported`, `orphan forgotten`, `miss counted`, `none`). Never a cancel.
    public var action: String
    public var detail: String
    public var changes: [FieldChange]
    /// What an adoption rests on: `tag`, `convention:<name>`, `recorded:<table>#<id>`,
    /// `placeholder:<row id>`, `claim`; absent for other findings.
    public var evidence: String?

    enum CodingKeys: String, CodingKey {
        case kind, symbol, side, strategy, price, quantity, filled, action, detail, changes, evidence
        case exchangeOrderID = "exchange_order_id"
        case clientOrderID = "client_order_id"
        case strategyAccountID = "strategy_account_id"
        case openOrderID = "open_order_id"
        case orderType = "order_type"
        case ageMs = "age_ms"
    }

    public init(_ f: Finding, groups: [StrategyLinkID: String] = [:], now: Millis? = nil) {
        kind = f.kind
        exchangeOrderID = f.exchangeOrderID?.rawValue
        clientOrderID = f.clientOrderID
        symbol = f.symbol
        side = f.side
        strategyAccountID = f.link
        strategy = f.link.flatMap { groups[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        openOrderID = f.row
        orderType = f.orderType?.rawValue
        price = f.price?.description
        quantity = f.quantity?.description
        filled = f.filled?.description
        if let now, let created = f.createdAt { ageMs = max(0, now - created) }
        action = Self.action(f)
        detail = f.detail
        changes = f.changes
        evidence = f.evidence
    }

    /// The decided action in a few words.
    static func action(_ f: Finding) -> String {
        for action in f.actions {
            switch action {
            case .updateRow: return "row updated"
            case .closeRow(_, let status, _): return "row closed \(status.phase.rawValue)"
            case .adopt: return "row inserted"
            case .repairPlaceholder: return "placeholder repaired"
            case .registerOrphan: return "orphan registered"
            case .refreshOrphan: return "orphan reported"
            case .forgetOrphan where f.kind == .orphanGone: return "orphan forgotten"
            default: continue
            }
        }
        if f.actions.contains(where: { if case .recordMiss = $0 { true } else { false } }) { return "miss counted" }
        return "none"
    }
}

/// One account and market in a report.
public struct ReportSection: Sendable, Hashable, Codable {
    public var accountID: AccountID
    public var accountName: String
    public var exchange: String
    /// Nil for an account whose exchange ordersync does not support.
    public var market: Market?
    /// `complete`, `partial`, `failed` or `unsupported`.
    public var coverage: String
    /// The symbols listed one by one; nil when every symbol was listed (a full sweep).
    public var symbols: [String]?
    public var error: String?
    public var listed: Int
    public var rows: Int
    public var counts: FindingCounts
    /// Every finding except `matched`.
    public var findings: [ReportFinding]

    enum CodingKeys: String, CodingKey {
        case exchange, market, coverage, symbols, error, listed, rows, counts, findings
        case accountID = "account_id"
        case accountName = "account_name"
    }

    /// `groups`: strategy `group_name` by link, for the findings' `strategy`.
    public init(plan: ReconcilePlan, accountName: String, exchange: String, groups: [StrategyLinkID: String] = [:]) {
        accountID = plan.account
        self.accountName = accountName
        self.exchange = exchange
        market = plan.market
        coverage = plan.coverage.label
        switch plan.scope {
        case .allSymbols: symbols = nil
        case .symbols(let set): symbols = set.sorted()
        case .orders: symbols = Array(Set(plan.findings.compactMap(\.symbol))).sorted()
        }
        error = plan.coverage.reason
        listed = plan.listed
        rows = plan.rows
        counts = FindingCounts(plan.findings)
        findings = plan.findings.filter { $0.kind != .matched }.map { ReportFinding($0, groups: groups, now: plan.decidedAt) }
    }

    /// A section for an account that could not be reconciled at all, or (`market`) for a market its
    /// exchange does not have.
    public static func unsupported(account: AccountID, accountName: String, exchange: String, market: Market? = nil, reason: String) -> ReportSection
    {
        ReportSection(
            accountID: account,
            accountName: accountName,
            exchange: exchange,
            market: market,
            coverage: "unsupported",
            symbols: nil,
            error: reason,
            listed: 0,
            rows: 0,
            counts: FindingCounts(),
            findings: []
        )
    }

    public init(
        accountID: AccountID,
        accountName: String,
        exchange: String,
        market: Market?,
        coverage: String,
        symbols: [String]?,
        error: String?,
        listed: Int,
        rows: Int,
        counts: FindingCounts,
        findings: [ReportFinding]
    ) {
        self.symbols = symbols
        self.accountID = accountID
        self.accountName = accountName
        self.exchange = exchange
        self.market = market
        self.coverage = coverage
        self.error = error
        self.listed = listed
        self.rows = rows
        self.counts = counts
        self.findings = findings
    }
}

/// The drift report of one reconciliation run.
public struct DriftReport: Sendable, Hashable, Codable {
    /// `/2` (issue #12): findings carry `evidence`; the action `placeholder repaired`.
    public static let currentSchema = "ordersync.drift-report/2"

    /// The trigger of what order streams found: each event's decision, one order at a time (its
    /// sections say nothing about orders they do not name).
    public static let streamTrigger = "stream"

    public var schema: String
    public var runID: Int64?
    /// What started the run: `cli`, `schedule`, `webhook`, `resync` (a stream's gap), `stream`.
    public var trigger: String
    public var startedAt: Millis
    public var finishedAt: Millis
    public var totals: FindingCounts
    public var sections: [ReportSection]

    enum CodingKeys: String, CodingKey {
        case schema, trigger, totals, sections
        case runID = "run_id"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public init(runID: Int64?, trigger: String, startedAt: Millis, finishedAt: Millis, sections: [ReportSection]) {
        schema = Self.currentSchema
        self.runID = runID
        self.trigger = trigger
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.sections = sections.sorted { ($0.accountID, $0.market?.rawValue ?? "") < ($1.accountID, $1.market?.rawValue ?? "") }
        totals = sections.reduce(FindingCounts()) { $0 + $1.counts }
    }

    /// Sections whose listing was not complete (failed, partial, unsupported).
    public var errorCount: Int { sections.filter { $0.coverage != "complete" }.count }

    /// Pretty JSON with sorted keys: the machine format.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings and integers cannot fail.
        let data = (try? encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static let columns: [(String, FindingKind)] = [
        ("MATCHED", .matched), ("DRIFTED", .drifted), ("STALE?", .staleSuspected), ("CLOSED", .closed),
        ("UNRESOLVED", .unresolved), ("ADOPTED", .adopted), ("ORPHANS", .foreignOrphan),
        ("GONE", .orphanGone), ("IN-FLIGHT", .inFlight),
    ]

    /// An aligned table, one line per account and market, then one line per finding worth a look.
    public func text() -> String {
        var out = "ordersync drift report"
        if let runID { out += " — run \(runID)" }
        out += " (\(trigger)) \(UTC.iso8601(startedAt)), \(finishedAt - startedAt) ms\n\n"
        var table: [[String]] = [["ACCOUNT", "EXCHANGE", "MARKET", "LISTING", "SCOPE", "LISTED", "ROWS"] + Self.columns.map(\.0)]
        for s in sections {
            let scope = s.market == nil ? "-" : s.symbols.map { $0.count == 1 ? $0[0] : "\($0.count) symbols" } ?? "all"
            table.append(
                ["\(s.accountID) \(s.accountName)", s.exchange, s.market?.rawValue ?? "-", s.coverage, scope, String(s.listed), String(s.rows)]
                    + Self.columns.map { String(s.counts[$0.1]) }
            )
        }
        table.append(
            [
                "TOTAL", "", "", errorCount == 0 ? "" : "\(errorCount) error(s)", "",
                String(sections.reduce(0) { $0 + $1.listed }), String(sections.reduce(0) { $0 + $1.rows }),
            ]
                + Self.columns.map { String(totals[$0.1]) }
        )
        out += Self.align(table, numericFrom: 5, numericThrough: table[0].count - 1)
        let errors = sections.filter { $0.error != nil }
        if !errors.isEmpty { out += "\n" }
        for s in errors {
            out += "  account \(s.accountID) \(s.market?.rawValue ?? "-"): \(s.coverage): \(s.error ?? "")\n"
        }
        var findings: [[String]] = [
            [
                "FINDING", "STRATEGY", "ACCOUNT", "MARKET", "SYMBOL", "SIDE", "TYPE", "PRICE", "QTY", "FILLED",
                "ORDER", "CLIENT ID", "AGE", "ACTION", "EVIDENCE", "DETAIL",
            ]
        ]
        for s in sections {
            for f in s.findings where f.kind != .unknown {
                findings.append([
                    f.kind.rawValue, f.strategy ?? f.strategyAccountID.map { "link \($0)" } ?? "-", "\(s.accountID)", s.market?.rawValue ?? "-",
                    f.symbol ?? "-", f.side?.rawValue ?? "-", f.orderType ?? "-", f.price ?? "-", f.quantity ?? "-", f.filled ?? "-",
                    f.exchangeOrderID ?? "-", f.clientOrderID ?? "-", f.ageMs.map(Self.age) ?? "-", f.action, f.evidence ?? "-", f.detail,
                ])
            }
        }
        if findings.count > 1 {
            out += "\n"
            out += Self.align(findings, numericFrom: 7, numericThrough: 9)
        }
        return out
    }

    /// Columns padded to their widest cell; numeric columns right-aligned; the last column unpadded.
    static func align(_ table: [[String]], numericFrom: Int, numericThrough: Int) -> String {
        var widths = [Int](repeating: 0, count: table[0].count)
        for line in table { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for line in table {
            let cells = line.enumerated().map { i, cell in
                let padding = String(repeating: " ", count: widths[i] - cell.count)
                return (numericFrom...numericThrough).contains(i) ? padding + cell : cell + padding
            }
            var text = cells.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            out += text + "\n"
        }
        return out
    }

    /// `850ms`, `12s`, `5m`, `3h`, `2d`.
    static func age(_ ms: Int64) -> String {
        switch ms {
        case ..<1000: return "\(ms)ms"
        case ..<120_000: return "\(ms / 1000)s"
        case ..<7_200_000: return "\(ms / 60_000)m"
        case ..<172_800_000: return "\(ms / 3_600_000)h"
        default: return "\(ms / 86_400_000)d"
        }
    }
}
