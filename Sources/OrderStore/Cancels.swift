import GRDB
import SyncCore

extension OrderDatabase: CancelStore {
    /// A strategy by `group_name` with its links, their accounts' owners and the webhook tokens
    /// of the users who may act on it (active users only); nil when no strategy has that name.
    public func strategyAccess(groupName: String) async throws -> StrategyAccess? {
        try await writer.read { db in
            guard let s = try Row.fetchOne(db, sql: "SELECT id, group_name, user_id, is_active FROM strategies WHERE group_name = ?",
                                           arguments: [groupName]) else { return nil }
            let strategy: Int64 = s[0]
            let links = try Row.fetchAll(db, sql: """
                SELECT sa.id, sa.account_id, a.user_id, st.market_type, sa.is_active, a.is_active, a.exchange
                FROM strategy_accounts sa
                JOIN accounts a ON a.id = sa.account_id
                JOIN strategies st ON st.id = sa.strategy_id
                WHERE sa.strategy_id = ? ORDER BY sa.id
                """, arguments: [strategy]).map { r in
                StrategyAccess.Link(
                    link: StrategyLinkID(r[0]), account: AccountID(r[1]), accountOwner: UserID(r[2]),
                    market: Market(stored: r[3] ?? "") ?? .spot, isActive: (r[4] ?? false) && (r[5] ?? false), exchange: r[6] ?? "")
            }
            let users = Set([s[2] as Int64] + links.map(\.accountOwner.rawValue)).sorted()
            var tokens: [UserID: Secret] = [:]
            for r in try Row.fetchAll(db, sql: """
                SELECT id, webhook_token FROM users
                WHERE id IN (\(databaseQuestionMarks(count: users.count))) AND is_active AND webhook_token IS NOT NULL AND webhook_token != ''
                """, arguments: StatementArguments(users)) {
                tokens[UserID(r[0])] = Secret(r[1])
            }
            return StrategyAccess(strategy: StrategyID(strategy), groupName: s[1], owner: UserID(s[2]), isActive: s[3] ?? false,
                                  links: links, tokens: tokens)
        }
    }

    public func recordCancelIntents(requestID: String, rows: [(row: OpenOrderRow, account: AccountID)], now: Millis) async throws {
        guard !rows.isEmpty else { return }
        try await writer.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO sync_cancel_intents (request_id, strategy_account_id, account_id, market, open_order_id, exchange_order_id, symbol,
                    state, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)
                """)
            for (row, account) in rows {
                try insert.execute(arguments: [requestID, row.link.rawValue, account.rawValue, row.market.rawValue, row.id.rawValue,
                                               row.exchangeOrderID.rawValue, row.symbol, now])
            }
        }
    }

    public func resolveCancels(requestID: String, account: AccountID, outcomes: [(row: OpenOrderRow, outcome: OrderCancelOutcome)],
                               now: Millis) async throws {
        guard !outcomes.isEmpty else { return }
        try await writer.write { db in
            let resolve = try db.cachedStatement(sql: """
                UPDATE sync_cancel_intents SET state = ?, final_status = ?, reason = ?, resolved_at = ?
                WHERE request_id = ? AND open_order_id = ?
                """)
            for (row, outcome) in outcomes {
                let order = outcome.finalOrder
                let state = order == nil && (outcome.label != "failed") ? "failed" : outcome.intentState
                let reason = CancelledOrder(row: row, outcome: outcome).reason
                try resolve.execute(arguments: [state, order?.status.rawValue, reason, state == "unknown" ? nil : now, requestID, row.id.rawValue])
                guard let order else { continue }
                // The exchange confirmed a final state: the row leaves open_orders, into history.
                try db.cachedStatement(sql: "DELETE FROM open_orders WHERE id = ? AND exchange_order_id = ?")
                    .execute(arguments: [row.id.rawValue, row.exchangeOrderID.rawValue])
                guard db.changesCount > 0 else { continue }
                try db.cachedStatement(sql: """
                    INSERT INTO sync_order_history (open_order_id, strategy_account_id, account_id, market, exchange_order_id, symbol,
                        side, order_type, price, stop_price, quantity, filled_quantity, final_status, source, run_id, created_at, closed_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'cancel', NULL, ?, ?)
                    """).execute(arguments: [row.id.rawValue, row.link.rawValue, account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue,
                                     row.symbol, row.side.rawValue, row.orderType.rawValue, row.price?.description, row.stopPrice?.description,
                                     row.quantity.description, order.executedQuantity.description, order.status.rawValue, row.createdAt, now])
                try db.cachedStatement(sql: "DELETE FROM sync_misses WHERE account_id = ? AND market = ? AND exchange_order_id = ?")
                    .execute(arguments: [account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue])
            }
        }
    }

    public func unresolvedCancels() async throws -> [PendingCancel] {
        try await writer.read { db in
            let intents = try Row.fetchAll(db, sql: """
                SELECT request_id, account_id, open_order_id FROM sync_cancel_intents
                WHERE state IN ('pending', 'sent', 'unknown') ORDER BY id
                """)
            guard !intents.isEmpty else { return [] }
            let ids = intents.map { $0[2] as Int64 }
            var rows: [Int64: OpenOrderRow] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                for r in try Row.fetchAll(db, sql: Self.rowSelect + " WHERE o.id IN (\(databaseQuestionMarks(count: chunk.count)))",
                                          arguments: StatementArguments(chunk)) {
                    let row = try Self.decodeRow(r)
                    rows[row.id.rawValue] = row
                }
            }
            return intents.map { r in
                PendingCancel(requestID: r[0], account: AccountID(r[1]), openOrderID: OpenOrderRowID(r[2]), row: rows[r[2]])
            }
        }
    }

    public func settleCancelsWithoutRows(requestID: String, openOrderIDs: [OpenOrderRowID], now: Millis) async throws {
        try await writer.write { db in
            for id in openOrderIDs {
                try db.execute(sql: """
                    UPDATE sync_cancel_intents SET state = 'closed', reason = 'the row had already left open_orders', resolved_at = ?
                    WHERE request_id = ? AND open_order_id = ? AND state IN ('pending', 'sent', 'unknown')
                    """, arguments: [now, requestID, id.rawValue])
            }
        }
    }

    /// Cancel intents by state (for reports and tests).
    public func cancelIntentStates() async throws -> [String: Int] {
        try await writer.read { db in
            var states: [String: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT state, count(*) FROM sync_cancel_intents GROUP BY state") { states[r[0]] = r[1] }
            return states
        }
    }
}
