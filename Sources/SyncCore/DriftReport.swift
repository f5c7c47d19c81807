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

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for kind in FindingKind.allCases {
            self[kind] = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: kind.rawValue)) ?? 0
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for kind in FindingKind.allCases { try c.encode(self[kind], forKey: Key(stringValue: kind.rawValue)) }
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
    public var openOrderID: OpenOrderRowID?
    public var detail: String
    public var changes: [FieldChange]

    enum CodingKeys: String, CodingKey {
        case kind, symbol, side, detail, changes
        case exchangeOrderID = "exchange_order_id"
        case clientOrderID = "client_order_id"
        case strategyAccountID = "strategy_account_id"
        case openOrderID = "open_order_id"
    }

    public init(_ f: Finding) {
        kind = f.kind
        exchangeOrderID = f.exchangeOrderID?.rawValue
        clientOrderID = f.clientOrderID
        symbol = f.symbol
        side = f.side
        strategyAccountID = f.link
        openOrderID = f.row
        detail = f.detail
        changes = f.changes
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
    public var error: String?
    public var listed: Int
    public var rows: Int
    public var counts: FindingCounts
    /// Every finding except `matched`.
    public var findings: [ReportFinding]

    enum CodingKeys: String, CodingKey {
        case exchange, market, coverage, error, listed, rows, counts, findings
        case accountID = "account_id"
        case accountName = "account_name"
    }

    public init(plan: ReconcilePlan, accountName: String, exchange: String) {
        accountID = plan.account
        self.accountName = accountName
        self.exchange = exchange
        market = plan.market
        coverage = plan.coverage.label
        error = plan.coverage.reason
        listed = plan.listed
        rows = plan.rows
        counts = FindingCounts(plan.findings)
        findings = plan.findings.filter { $0.kind != .matched }.map(ReportFinding.init)
    }

    /// A section for an account that could not be reconciled at all.
    public static func unsupported(account: AccountID, accountName: String, exchange: String, reason: String) -> ReportSection {
        ReportSection(
            accountID: account, accountName: accountName, exchange: exchange, market: nil, coverage: "unsupported",
            error: reason, listed: 0, rows: 0, counts: FindingCounts(), findings: [])
    }

    public init(
        accountID: AccountID, accountName: String, exchange: String, market: Market?, coverage: String,
        error: String?, listed: Int, rows: Int, counts: FindingCounts, findings: [ReportFinding]
    ) {
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
    public static let currentSchema = "ordersync.drift-report/1"

    public var schema: String
    public var runID: Int64?
    /// What started the run: `cli`, `schedule`, `webhook`.
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
        var table: [[String]] = [["ACCOUNT", "EXCHANGE", "MARKET", "LISTING", "LISTED", "ROWS"] + Self.columns.map(\.0)]
        for s in sections {
            table.append(
                ["\(s.accountID) \(s.accountName)", s.exchange, s.market?.rawValue ?? "-", s.coverage, String(s.listed), String(s.rows)]
                    + Self.columns.map { String(s.counts[$0.1]) })
        }
        table.append(
            ["TOTAL", "", "", errorCount == 0 ? "" : "\(errorCount) error(s)",
             String(sections.reduce(0) { $0 + $1.listed }), String(sections.reduce(0) { $0 + $1.rows })]
                + Self.columns.map { String(totals[$0.1]) })
        let numericFrom = 4
        var widths = [Int](repeating: 0, count: table[0].count)
        for line in table { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        for line in table {
            let cells = line.enumerated().map { i, cell in
                let padding = String(repeating: " ", count: widths[i] - cell.count)
                return i >= numericFrom ? padding + cell : cell + padding
            }
            var text = cells.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            out += text + "\n"
        }
        let errors = sections.filter { $0.error != nil }
        let details = sections.flatMap { s in s.findings.filter { $0.kind != .inFlight }.map { (s, $0) } }
        if !errors.isEmpty || !details.isEmpty { out += "\n" }
        for s in errors {
            out += "  account \(s.accountID) \(s.market?.rawValue ?? "-"): \(s.coverage): \(s.error ?? "")\n"
        }
        for (s, f) in details {
            var line = "  account \(s.accountID) \(s.market?.rawValue ?? "-") \(f.kind.rawValue)"
            if let symbol = f.symbol { line += " \(symbol)" }
            if let side = f.side { line += " \(side.rawValue)" }
            if let id = f.exchangeOrderID { line += " order \(id)" }
            if let client = f.clientOrderID { line += " (\(client))" }
            if let link = f.strategyAccountID { line += " link \(link)" }
            if let row = f.openOrderID { line += " row \(row)" }
            if !f.detail.isEmpty { line += ": \(f.detail)" }
            out += line + "\n"
        }
        return out
    }
}
