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

    /// `ordersync claim` with claims: records them (all or none); without: lists the claims in force.
    public static func claim(
        database: String,
        claims: [OperatorClaim],
        configured: [OperatorClaim],
        json: Bool
    ) async throws(AppError) -> OperatorOutput {
        let db = try await openDatabase(database)
        defer { Task { await db.close() } }
        do {
            if !claims.isEmpty {
                let writes: [ClaimWrite]
                do {
                    writes = try await db.addClaims(claims, others: configured, now: wallClock())
                } catch let refusal as ClaimRefusal {
                    return OperatorOutput(text: "claim refused, nothing recorded: \(refusal)", status: 1)
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
        } catch let error as AppError {
            throw error
        } catch {
            throw AppError("\(error)")
        }
    }

    /// `ordersync unclaim`: removes the database's claims on each target; status 1 when a target
    /// matched none (claims in the configuration are the file's to change).
    public static func unclaim(database: String, targets: [ClaimTarget]) async throws(AppError) -> OperatorOutput {
        let db = try await openDatabase(database)
        defer { Task { await db.close() } }
        var lines: [String] = []
        var status: Int32 = 0
        for target in targets {
            let removed: Int
            do { removed = try await db.removeClaims(account: target.account, symbol: target.symbol, side: target.side) } catch {
                throw AppError("\(error)")
            }
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
        let db = try await openDatabase(database)
        defer { Task { await db.close() } }
        let found: [RegisteredOrphan]
        do { found = try await db.orphans(filter) } catch { throw AppError("\(error)") }
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
