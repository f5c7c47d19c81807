// The operator commands (issue #17): `ordersync claim` / `unclaim` write operator claims to the
// database, where every pass of `reconcile` and `serve` reads them beside the configuration's;
// `ordersync orphans` lists the orphan registry. Text for people, JSON for machines.
import Foundation
import OrderStore
import SyncCore

/// An order's claim target without its link, as `unclaim` takes it: `ACCOUNT:SYMBOL[:SIDE]`.
public struct ClaimTarget: Sendable, Hashable {
    public var account: AccountID
    public var symbol: String
    public var side: Side?

    /// Parses `ACCOUNT:SYMBOL[:SIDE]`, e.g. `1:BTCUSDT:SELL`.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let account = Int64(parts[0]), account > 0, !parts[1].isEmpty, !parts[1].contains("=") else {
            return nil
        }
        if parts.count == 3 {
            guard let side = Side(parsing: String(parts[2])) else { return nil }
            self.side = side
        }
        self.account = AccountID(account)
        self.symbol = String(parts[1])
    }
}

/// What `claim` and `unclaim` print, and their exit status.
public struct OperatorOutput: Sendable {
    public var text: String
    /// 0 done; 1 refused or nothing matched (nothing changed).
    public var status: Int32
}

extension EntryPoints {
    /// The claims in force for the next pass: the database's and, when a configuration is given,
    /// the file's (`source` says which).
    struct ClaimLine: Codable {
        var account_id: Int64
        var symbol: String
        var side: String?
        var strategy_account_id: Int64
        var source: String
    }

    /// Opens the database, runs `body` on it and closes it — awaited, whether `body` returns or
    /// throws — with the store's errors as `AppError`s naming them.
    static func withDatabase<T: Sendable>(_ name: String, _ body: (OrderDatabase) async throws -> T) async throws(AppError) -> T {
        let db = try await openDatabase(name)
        do {
            let result = try await body(db)
            await db.close()
            return result
        } catch {
            await db.close()
            throw (error as? AppError) ?? AppError("\(error)")
        }
    }

    /// `ordersync claim` with claims: records them (all or none); without: lists the claims in force.
    public static func claim(
        database: String,
        claims: [OperatorClaim],
        configured: [OperatorClaim],
        json: Bool
    ) async throws(AppError) -> OperatorOutput {
        try await withDatabase(database) { db in
            if !claims.isEmpty {
                let writes: [ClaimWrite]
                do {
                    writes = try await db.addClaims(claims, others: configured, now: wallClock())
                } catch let error as StoreError where error.isRefusal {
                    return OperatorOutput(text: "claim refused, nothing recorded: \(error)", status: 1)
                }
                let lines = zip(claims, writes).map { claim, write in
                    "\(write == .added ? "claimed" : "already claimed"): account \(claim.account) \(SymbolKey.of(claim.symbol)) \(claim.side?.rawValue ?? "both sides") → strategy link \(claim.link)"
                }
                return OperatorOutput(text: lines.joined(separator: "\n") + "\nin force from the next pass of reconcile or serve", status: 0)
            }
            let recorded = try await db.operatorClaims()
            let lines =
                configured.map { ClaimLine($0, source: "config") } + recorded.map { ClaimLine($0, source: "database") }
            if json { return OperatorOutput(text: try encode(["claims": lines]), status: 0) }
            if lines.isEmpty { return OperatorOutput(text: "no claims", status: 0) }
            let table = lines.map {
                ["\($0.account_id)", $0.symbol, $0.side ?? "both", "\($0.strategy_account_id)", $0.source]
            }
            return OperatorOutput(text: render(["account", "symbol", "side", "strategy_account_id", "source"], table), status: 0)
        }
    }

    /// `ordersync unclaim`: removes the database's claims on each target; status 1 when a target
    /// matched none (claims in the configuration are the file's to change).
    public static func unclaim(database: String, targets: [ClaimTarget]) async throws(AppError) -> OperatorOutput {
        try await withDatabase(database) { db in
            var lines: [String] = []
            var status: Int32 = 0
            for target in targets {
                let removed = try await db.removeClaims(account: target.account, symbol: target.symbol, side: target.side)
                let name = "account \(target.account) \(SymbolKey.of(target.symbol)) \(target.side?.rawValue ?? "every side")"
                if removed == 0 {
                    status = 1
                    lines.append("no recorded claim on \(name)")
                } else {
                    lines.append("unclaimed \(removed): \(name)")
                }
            }
            return OperatorOutput(text: lines.joined(separator: "\n"), status: status)
        }
    }

    /// One registered orphan in `ordersync orphans --format json`.
    struct OrphanLine: Codable {
        var account_id: Int64
        var account: String
        var exchange: String
        var market: String
        var exchange_order_id: String
        var client_order_id: String?
        var symbol: String
        var side: String
        var type: String
        var status: String
        var price: String
        var stop_price: String?
        var quantity: String
        var executed_quantity: String
        var order_time: String
        var first_seen_at: String
        var last_seen_at: String
        var times_seen: Int
    }

    /// `ordersync orphans`: the registry, filtered, as a table or `{"orphans": [...]}`.
    public static func orphans(database: String, filter: OrphanFilter, json: Bool) async throws(AppError) -> String {
        let found = try await withDatabase(database) { try await $0.orphans(filter) }
        let lines = found.map { o in
            OrphanLine(
                account_id: o.record.account.rawValue,
                account: o.accountName,
                exchange: o.exchange,
                market: o.record.market.rawValue,
                exchange_order_id: o.record.order.id.rawValue,
                client_order_id: o.record.order.clientOrderID,
                symbol: o.record.order.symbol,
                side: o.record.order.side.rawValue,
                type: o.record.order.type.rawValue,
                status: o.record.order.status.venueText,
                price: o.record.order.price.description,
                stop_price: o.record.order.stopPrice?.description,
                quantity: o.record.order.quantity.description,
                executed_quantity: o.record.order.executedQuantity.description,
                order_time: UTC.iso8601(o.record.order.time),
                first_seen_at: UTC.iso8601(o.record.firstSeen),
                last_seen_at: UTC.iso8601(o.record.lastSeen),
                times_seen: o.record.timesSeen
            )
        }
        do {
            if json { return try encode(["orphans": lines]) }
        } catch { throw AppError("\(error)") }
        if lines.isEmpty { return "no registered orphans" }
        return render(
            [
                "account", "exchange", "market", "symbol", "side", "type", "price", "quantity", "executed", "order id", "client order id",
                "first seen", "seen",
            ],
            lines.map {
                [
                    "\($0.account_id) \($0.account)", $0.exchange, $0.market, $0.symbol, $0.side, $0.type, $0.price, $0.quantity,
                    $0.executed_quantity,
                    $0.exchange_order_id, $0.client_order_id ?? "-", $0.first_seen_at, "\($0.times_seen)",
                ]
            }
        ) + "\n\(lines.count) orphan(s): orders without a row that ordersync could not attribute; `ordersync claim` assigns them to a strategy link"
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A left-aligned table with a header row.
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

extension EntryPoints.ClaimLine {
    init(_ claim: OperatorClaim, source: String) {
        self.init(
            account_id: claim.account.rawValue,
            symbol: SymbolKey.of(claim.symbol),
            side: claim.side?.rawValue,
            strategy_account_id: claim.link.rawValue,
            source: source
        )
    }
}

extension EntryPoints {
    /// A time for `history`: ISO 8601 (`2026-12-01T00:00:00Z`, `2026-12-01 00:00:00`) or an age
    /// before `now` (`90m`, `24h`, `7d`, `30s`).
    public static func historyTime(_ text: String, now: Millis) -> Millis? {
        let units: [Character: Int64] = ["s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        if let unit = text.last.flatMap({ units[$0] }), let n = Int64(text.dropLast()), n >= 0 { return now - n * unit }
        return UTC.parse(text)
    }

    struct FindingLine: Codable {
        var account_id: Int64
        var market: String
        var kind: String
        var exchange_order_id: String?
        var symbol: String?
        var side: String?
        var strategy_account_id: Int64?
        var detail: String
        var outcome: String
        var evidence: String?
        var at: String
    }

    struct PassLine: Codable {
        var run_id: Int64
        var trigger: String
        var started_at: String
        var finished_at: String?
        var status: String
        var totals: [String: Int]?
        var findings: [FindingLine]
    }

    struct CancelLine: Codable {
        var request_id: String
        var started_at: String
        var resolved_at: String?
        var strategy_account_ids: [Int64]
        var account_ids: [Int64]
        var intents: [String: Int]
    }

    struct HistoryDocument: Codable {
        var since: String
        var until: String
        var account_id: Int64?
        var passes: [PassLine]
        var cancels: [CancelLine]
    }

    /// `ordersync history`: passes and cancels in `since..<until`, oldest first; text shows each
    /// pass's findings only with `findings`, JSON always.
    public static func history(
        database: String,
        since: Millis,
        until: Millis,
        account: AccountID?,
        findings: Bool,
        json: Bool
    ) async throws(AppError) -> String {
        let found = try await withDatabase(database) { try await $0.history(since: since, until: until, account: account) }
        let passes = found.runs.map { run in
            PassLine(
                run_id: run.id,
                trigger: run.trigger,
                started_at: UTC.iso8601(run.startedAt),
                finished_at: run.finishedAt.map(UTC.iso8601),
                status: run.status,
                totals: run.totals,
                findings: run.findings.map {
                    FindingLine(
                        account_id: $0.account.rawValue,
                        market: $0.market,
                        kind: $0.kind,
                        exchange_order_id: $0.exchangeOrderID,
                        symbol: $0.symbol,
                        side: $0.side,
                        strategy_account_id: $0.link?.rawValue,
                        detail: $0.detail,
                        outcome: $0.outcome,
                        evidence: $0.evidence,
                        at: UTC.iso8601($0.at)
                    )
                }
            )
        }
        let cancels = found.cancels.map {
            CancelLine(
                request_id: $0.requestID,
                started_at: UTC.iso8601($0.startedAt),
                resolved_at: $0.resolvedAt.map(UTC.iso8601),
                strategy_account_ids: $0.links.map(\.rawValue),
                account_ids: $0.accounts.map(\.rawValue),
                intents: $0.states
            )
        }
        if json {
            let document = HistoryDocument(
                since: UTC.iso8601(since),
                until: UTC.iso8601(until),
                account_id: account?.rawValue,
                passes: passes,
                cancels: cancels
            )
            do { return try encode(document) } catch { throw AppError("\(error)") }
        }
        // One time line: passes and cancels by start.
        var events: [(at: Millis, text: String)] = []
        for (run, line) in zip(found.runs, passes) {
            let took = run.finishedAt.map { String(format: "%.1f s", Double($0 - run.startedAt) / 1000) } ?? "running"
            let totals = (line.totals ?? [:]).filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            var text =
                "pass \(line.run_id)  \(line.started_at)  \(line.trigger)  \(line.status)  \(took)  \(totals.isEmpty ? "no findings" : totals.joined(separator: ", "))"
            if findings {
                for f in line.findings {
                    text +=
                        "\n  \(f.kind)  account \(f.account_id) \(f.market) \(f.symbol ?? "-") \(f.side ?? "-") \(f.exchange_order_id ?? "-")  link \(f.strategy_account_id.map(String.init) ?? "-")  \(f.outcome)  \(f.detail)"
                }
            }
            events.append((run.startedAt, text))
        }
        for (cancel, line) in zip(found.cancels, cancels) {
            let states = line.intents.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let links = line.strategy_account_ids.map(String.init).joined(separator: ", ")
            let accounts = line.account_ids.map(String.init).joined(separator: ", ")
            events.append((cancel.startedAt, "cancel \(line.request_id)  \(line.started_at)  links \(links)  accounts \(accounts)  \(states)"))
        }
        let header =
            "history \(UTC.iso8601(since)) → \(UTC.iso8601(until))\(account.map { " (account \($0))" } ?? ""): \(passes.count) pass(es), \(cancels.count) cancel(s)"
        return ([header] + events.sorted { $0.at < $1.at }.map(\.text)).joined(separator: "\n")
    }
}
