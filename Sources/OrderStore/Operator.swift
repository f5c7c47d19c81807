// What the operator commands read and write: claims (`sync_claims`, written by `ordersync claim`,
// read by every pass beside the config's) and the orphan registry (`sync_orphans`, read by
// `ordersync orphans`). Nothing here touches the origin's tables.
import SyncCore

/// Why a claim was refused (nothing was written).
public struct ClaimRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
}

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
                    throw ClaimRefusal(description: "strategy link \(claim.link) does not exist (strategy_accounts.id)")
                }
                guard owner == claim.account.rawValue else {
                    throw ClaimRefusal(description: "strategy link \(claim.link) is on account \(owner), not on account \(claim.account)")
                }
                let recorded = try await conn.query(
                    "SELECT side, strategy_account_id FROM sync_claims WHERE account_id = ? AND symbol = ?",
                    [claim.account.rawValue, key]
                )
                if let other = recorded.compactMap({ $0.int(1) }).first(where: { $0 != claim.link.rawValue }) {
                    throw ClaimRefusal(
                        description: "account \(claim.account) symbol \(key) is already claimed by strategy link \(other) (ordersync unclaim first)"
                    )
                }
                // (A claim earlier in `claims` is already inserted, so the query above saw it.)
                if let other = others.first(where: { $0.account == claim.account && SymbolKey.of($0.symbol) == key && $0.link != claim.link }) {
                    throw ClaimRefusal(
                        description: "account \(claim.account) symbol \(key) is claimed by strategy link \(other.link) in the configuration"
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
