// What the operator commands read and write: claims (`sync_claims`, written by `ordersync claim`,
// read by every pass beside the config's) and the orphan registry (`sync_orphans`, read by
// `ordersync orphans`) and the record of passes and cancels (`ordersync history`). Nothing here
// touches the origin's tables.
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What `addClaim` did.
public enum ClaimWrite: Sendable, Hashable {
    case added
    /// The same claim was already recorded.
    case unchanged
}

/// A registered orphan with its account's name and exchange.
public struct RegisteredOrphan: Sendable, Hashable {
    public var record: OrphanRecord
    public var accountName: String
    public var exchange: String
}

/// Which registered orphans to list (nil: any).
public struct OrphanFilter: Sendable, Hashable {
    public var accounts: Set<AccountID>?
    public var exchange: String?
    public var symbol: String?
    public var market: Market?
    /// Seen at least this many passes.
    public var minTimesSeen: Int

    public init(accounts: Set<AccountID>? = nil, exchange: String? = nil, symbol: String? = nil, market: Market? = nil, minTimesSeen: Int = 1) {
        self.accounts = accounts
        self.exchange = exchange
        self.symbol = symbol
        self.market = market
        self.minTimesSeen = minTimesSeen
    }
}

extension OrderDatabase {
    /// The claims recorded by `ordersync claim`, in key order.
    public func operatorClaims() async throws -> [OperatorClaim] {
        try await backend.read { conn in
            try await conn.query("SELECT account_id, symbol, side, strategy_account_id FROM sync_claims ORDER BY account_id, symbol, side")
                .map { r in
                    OperatorClaim(
                        account: AccountID(r.int(0) ?? 0),
                        symbol: r.text(1) ?? "",
                        side: Side(rawValue: r.text(2) ?? ""),
                        link: StrategyLinkID(r.int(3) ?? 0)
                    )
                }
        }
    }

    /// Records claims after checking each, all or none (one transaction): the link exists and is
    /// on the claim's account, and no other link claims the account and symbol — recorded, earlier
    /// in `claims`, or in `others` (the configuration's). Returns what each did, in order.
    public func addClaims(_ claims: [OperatorClaim], others: [OperatorClaim] = [], now: Millis) async throws -> [ClaimWrite] {
        try await backend.write { conn in
            var writes: [ClaimWrite] = []
            for claim in claims {
                let key = SymbolKey.of(claim.symbol)
                let link = try await conn.query("SELECT account_id FROM strategy_accounts WHERE id = ?", [claim.link.rawValue])
                guard let owner = link.first?.int(0) else {
                    throw StoreError.refused("strategy link \(claim.link) does not exist (strategy_accounts.id)")
                }
                guard owner == claim.account.rawValue else {
                    throw StoreError.refused("strategy link \(claim.link) is on account \(owner), not on account \(claim.account)")
                }
                let recorded = try await conn.query(
                    "SELECT side, strategy_account_id FROM sync_claims WHERE account_id = ? AND symbol = ?",
                    [claim.account.rawValue, key]
                )
                if let other = recorded.compactMap({ $0.int(1) }).first(where: { $0 != claim.link.rawValue }) {
                    throw StoreError.refused(
                        "account \(claim.account) symbol \(key) is already claimed by strategy link \(other) (ordersync unclaim first)"
                    )
                }
                // (A claim earlier in `claims` is already inserted, so the query above saw it.)
                if let other = others.first(where: { $0.account == claim.account && SymbolKey.of($0.symbol) == key && $0.link != claim.link }) {
                    throw StoreError.refused(
                        "account \(claim.account) symbol \(key) is claimed by strategy link \(other.link) in the configuration"
                    )
                }
                let side = claim.side?.rawValue ?? ""
                if recorded.contains(where: { $0.text(0) == side }) {
                    writes.append(.unchanged)
                    continue
                }
                try await conn.execute(
                    "INSERT INTO sync_claims (account_id, symbol, side, strategy_account_id, created_at) VALUES (?, ?, ?, ?, ?)",
                    [claim.account.rawValue, key, side, claim.link.rawValue, now]
                )
                writes.append(.added)
            }
            return writes
        }
    }

    /// Removes the claims on the account and symbol (one side, or every side when nil); returns how many.
    public func removeClaims(account: AccountID, symbol: String, side: Side?) async throws -> Int {
        let key = SymbolKey.of(symbol)
        return try await backend.write { conn in
            var sql = "FROM sync_claims WHERE account_id = ? AND symbol = ?"
            var arguments: [any SQLArgument] = [account.rawValue, key]
            if let side {
                sql += " AND side = ?"
                arguments.append(side.rawValue)
            }
            let count = try await conn.query("SELECT COUNT(*) " + sql, arguments).first?.int(0) ?? 0
            try await conn.execute("DELETE " + sql, arguments)
            return Int(count)
        }
    }

    /// The orphan registry (orders without a row, as last seen), with filters, in account, market,
    /// symbol and first-seen order.
    public func orphans(_ filter: OrphanFilter = OrphanFilter()) async throws -> [RegisteredOrphan] {
        try await backend.read { conn in
            var sql = """
                SELECT o.account_id, o.market, o.exchange_order_id, o.client_order_id, o.symbol, o.side, o.order_type, o.status, o.price,
                       o.stop_price, o.quantity, o.executed_quantity, o.order_time, o.first_seen_at, o.last_seen_at, o.times_seen,
                       a.name, a.exchange
                FROM sync_orphans o LEFT JOIN accounts a ON a.id = o.account_id
                WHERE o.times_seen >= ?
                """
            var arguments: [any SQLArgument] = [Int64(filter.minTimesSeen)]
            if let accounts = filter.accounts, !accounts.isEmpty {
                sql += " AND o.account_id IN (\(placeholders(accounts.count)))"
                arguments += accounts.map(\.rawValue).sorted()
            }
            if let exchange = filter.exchange {
                sql += " AND UPPER(a.exchange) = ?"
                arguments.append(exchange.uppercased())
            }
            if let market = filter.market {
                sql += " AND o.market = ?"
                arguments.append(market.rawValue)
            }
            sql += " ORDER BY o.account_id, o.market, o.symbol, o.first_seen_at, o.exchange_order_id"
            let key = filter.symbol.map(SymbolKey.of)
            return try await conn.query(sql, arguments).compactMap { r -> RegisteredOrphan? in
                guard let record = Self.decodeOrphan(r) else { return nil }
                if let key, SymbolKey.of(record.order.symbol) != key { return nil }
                return RegisteredOrphan(record: record, accountName: r.text(16) ?? "", exchange: (r.text(17) ?? "").uppercased())
            }
        }
    }
}

/// One pass as `ordersync history` shows it.
public struct RunHistory: Sendable, Hashable {
    public var id: Int64
    public var trigger: String
    public var startedAt: Millis
    public var finishedAt: Millis?
    /// `running`, `ok` or `errors`.
    public var status: String
    /// Findings by kind, as the pass recorded them (nil while it runs).
    public var totals: [String: Int]?
    public var findings: [FindingHistory]
}

/// One recorded finding of a pass.
public struct FindingHistory: Sendable, Hashable {
    public var account: AccountID
    public var market: String
    public var kind: String
    public var exchangeOrderID: String?
    public var symbol: String?
    public var side: String?
    public var link: StrategyLinkID?
    public var detail: String
    public var outcome: String
    public var evidence: String?
    public var at: Millis
}

/// One strategy-scoped cancel (a request id) as `ordersync history` shows it.
public struct CancelHistory: Sendable, Hashable {
    public var requestID: String
    public var startedAt: Millis
    public var resolvedAt: Millis?
    public var links: [StrategyLinkID]
    public var accounts: [AccountID]
    /// Intents by state: `cancelled`, `closed`, `failed`, `unknown`, `pending`, `sent`.
    public var states: [String: Int]
}

extension OrderDatabase {
    /// Passes started and cancels requested in `since..<until`, oldest first, with the passes'
    /// findings; `account` keeps only that account's findings and cancels.
    public func history(since: Millis, until: Millis, account: AccountID?) async throws -> (runs: [RunHistory], cancels: [CancelHistory]) {
        try await backend.read { conn in
            let runRows = try await conn.query(
                "SELECT id, trigger, started_at, finished_at, status, totals_json FROM sync_runs WHERE started_at >= ? AND started_at < ? ORDER BY id",
                [since, until]
            )
            var runs: [RunHistory] = runRows.map { r in
                RunHistory(
                    id: r.int(0) ?? 0,
                    trigger: r.text(1) ?? "",
                    startedAt: r.int(2) ?? 0,
                    finishedAt: r.int(3),
                    status: r.text(4) ?? "",
                    totals: r.text(5).flatMap { try? JSONDecoder().decode([String: Int].self, from: Data($0.utf8)) },
                    findings: []
                )
            }
            if let first = runs.first?.id, let last = runs.last?.id {
                var sql = """
                    SELECT run_id, account_id, market, kind, exchange_order_id, symbol, side, strategy_account_id, detail, outcome, evidence, created_at
                    FROM sync_findings WHERE run_id >= ? AND run_id <= ?
                    """
                var arguments: [any SQLArgument] = [first, last]
                if let account {
                    sql += " AND account_id = ?"
                    arguments.append(account.rawValue)
                }
                let index = Dictionary(uniqueKeysWithValues: runs.enumerated().map { ($1.id, $0) })
                for r in try await conn.query(sql + " ORDER BY id", arguments) {
                    guard let i = index[r.int(0) ?? 0] else { continue }
                    runs[i].findings.append(
                        FindingHistory(
                            account: AccountID(r.int(1) ?? 0),
                            market: r.text(2) ?? "",
                            kind: r.text(3) ?? "",
                            exchangeOrderID: r.text(4),
                            symbol: r.text(5),
                            side: r.text(6),
                            link: r.int(7).map(StrategyLinkID.init),
                            detail: r.text(8) ?? "",
                            outcome: r.text(9) ?? "",
                            evidence: r.text(10),
                            at: r.int(11) ?? 0
                        )
                    )
                }
            }
            var sql = """
                SELECT request_id, MIN(created_at), MAX(resolved_at), strategy_account_id, account_id, state, COUNT(*)
                FROM sync_cancel_intents WHERE created_at >= ? AND created_at < ?
                """
            var arguments: [any SQLArgument] = [since, until]
            if let account {
                sql += " AND account_id = ?"
                arguments.append(account.rawValue)
            }
            sql += " GROUP BY request_id, strategy_account_id, account_id, state"
            var byRequest: [String: CancelHistory] = [:]
            for r in try await conn.query(sql, arguments) {
                let id = r.text(0) ?? ""
                var c = byRequest[id] ?? CancelHistory(requestID: id, startedAt: r.int(1) ?? 0, resolvedAt: nil, links: [], accounts: [], states: [:])
                c.startedAt = min(c.startedAt, r.int(1) ?? c.startedAt)
                if let resolved = r.int(2) { c.resolvedAt = max(c.resolvedAt ?? resolved, resolved) }
                let link = StrategyLinkID(r.int(3) ?? 0)
                let acct = AccountID(r.int(4) ?? 0)
                if !c.links.contains(link) { c.links.append(link) }
                if !c.accounts.contains(acct) { c.accounts.append(acct) }
                c.states[r.text(5) ?? "", default: 0] += Int(r.int(6) ?? 0)
                byRequest[id] = c
            }
            let cancels = byRequest.values.map { c -> CancelHistory in
                var c = c
                c.links.sort { $0.rawValue < $1.rawValue }
                c.accounts.sort { $0.rawValue < $1.rawValue }
                return c
            }.sorted { ($0.startedAt, $0.requestID) < ($1.startedAt, $1.requestID) }
            return (runs, cancels)
        }
    }
}
