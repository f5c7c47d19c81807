import Scenarios
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Loading a scenario (`ordersync load`, the demo, tests): the database side in one transaction.
extension OrderDatabase {
    /// Writes the DB side of a scenario (users, accounts, strategies, links, `open_orders`) in one
    /// transaction, every NOT NULL column of the origin's tables filled as its code fills it: all of
    /// it or, on any error, nothing. Errors name the item.
    public func load(_ scenario: Scenario, now: Millis) async throws {
        var statements: [(item: String, sql: String, arguments: [SQLValue])] = []
        func add(_ item: String, _ sql: String, _ arguments: [any SQLArgument]) {
            statements.append((item, sql, arguments.map(\.sqlValue)))
        }
        let stamp = Timestamp(now)
        for (i, u) in scenario.users.enumerated() {
            add(
                "users[\(i)]",
                """
                INSERT INTO users (id, username, password_hash, webhook_token, is_active, is_admin, must_change_password, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [u.id.rawValue, u.username, "!fixture-no-login", u.webhookToken?.reveal(), u.isActive, false, false, stamp]
            )
        }
        for (i, a) in scenario.accounts.enumerated() {
            let stored = scenario.storage[a.id]
            add(
                "accounts[\(i)]",
                """
                INSERT INTO accounts (id, user_id, name, exchange, public_api, secret_api, is_testnet, is_active, account_type, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    a.id.rawValue, a.user.rawValue, a.name, stored?.exchange ?? a.exchange, stored?.publicAPI ?? a.apiKey,
                    stored?.secretAPI ?? a.apiSecret.reveal(), a.isTestnet, a.isActive, "CRYPTO", stamp, stamp,
                ]
            )
        }
        for (i, s) in scenario.strategies.enumerated() {
            add(
                "strategies[\(i)]",
                """
                INSERT INTO strategies (id, user_id, name, group_name, market_type, is_active, is_public, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [s.id.rawValue, s.user.rawValue, s.name, s.groupName, s.market.rawValue, s.isActive, s.isPublic, stamp, stamp]
            )
        }
        for (i, l) in scenario.links.enumerated() {
            add(
                "strategy_accounts[\(i)]",
                """
                INSERT INTO strategy_accounts (id, strategy_id, account_id, weight, leverage, is_active) VALUES (?, ?, ?, ?, ?, ?)
                """,
                [l.id.rawValue, l.strategy.rawValue, l.account.rawValue, l.weight, l.leverage, l.isActive]
            )
        }
        // Rows with an explicit id first; then PostgreSQL's sequences are moved past the ids used, so
        // rows without one (and the origin's next insert) take fresh ids.
        let ordered = scenario.dbOrders.enumerated().sorted { ($0.element.id == nil ? 1 : 0, $0.offset) < ($1.element.id == nil ? 1 : 0, $1.offset) }
        var sequencesAt = statements.count + ordered.filter { $0.element.id != nil }.count
        for (i, o) in ordered {
            let created = Timestamp(now - o.ageMs)
            var columns = [
                "strategy_account_id", "exchange_order_id", "symbol", "side", "order_type", "price", "stop_price", "quantity",
                "filled_quantity", "status", "market_type", "created_at", "updated_at", "is_processing", "processing_started_at",
                "cancel_attempted_at",
            ]
            var values: [any SQLArgument] = [
                o.link.rawValue, o.exchangeOrderID.rawValue, o.symbol, o.side.rawValue, o.orderType.rawValue,
                o.price?.doubleValue, o.stopPrice?.doubleValue, o.quantity.doubleValue, o.filledQuantity.doubleValue, o.status,
                o.marketText ?? o.market.rawValue, created, created, o.isProcessing, o.processingAgeMs.map { Timestamp(now - $0) },
                o.cancelAgeMs.map { Timestamp(now - $0) },
            ]
            if let id = o.id {
                columns.insert("id", at: 0)
                values.insert(id.rawValue, at: 0)
            }
            add(
                "db_orders[\(i)] (exchange_order_id \(o.exchangeOrderID))",
                "INSERT INTO open_orders (\(columns.joined(separator: ", "))) VALUES (\(placeholders(columns.count)))",
                values
            )
        }
        if ordered.allSatisfy({ $0.element.id != nil }) { sequencesAt = statements.count }
        // The origin's records of order ids, every NOT NULL column as its code fills it.
        let json = dialect == .postgres ? "CAST(? AS JSON)" : "?"
        for (i, r) in scenario.originRecords.enumerated() {
            let at = Timestamp(now - r.ageMs)
            let market = r.marketText ?? r.market.rawValue
            let item = "origin_records[\(i)] (\(r.table.rawValue) \(r.exchangeOrderID))"
            switch r.table {
            case .trades:
                add(
                    item,
                    """
                    INSERT INTO trades (strategy_account_id, exchange_order_id, symbol, side, order_type, order_price, price, quantity, timestamp, is_entry, market_type)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.link.rawValue, r.exchangeOrderID, r.symbol, r.side.rawValue, r.orderType.rawValue, r.price?.doubleValue,
                        (r.price ?? .zero).doubleValue, r.quantity.doubleValue, at, true, market,
                    ]
                )
            case .tradeExecutions:
                add(
                    item,
                    """
                    INSERT INTO trade_executions (strategy_account_id, exchange_trade_id, exchange_order_id, symbol, side, execution_price,
                        execution_quantity, execution_time, market_type, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.link.rawValue, "\(r.exchangeOrderID)-\(i)", r.exchangeOrderID, r.symbol, r.side.rawValue, (r.price ?? .zero).doubleValue,
                        r.quantity.doubleValue, at, market, at,
                    ]
                )
            case .orderFillEvents:
                add(
                    item,
                    """
                    INSERT INTO order_fill_events (account_id, strategy_account_id, exchange_order_id, symbol, side, order_type, filled_quantity,
                        average_price, status, event_time, processed, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.account.rawValue, r.link.rawValue, r.exchangeOrderID, r.symbol, r.side.rawValue, r.orderType.rawValue,
                        r.quantity.doubleValue, r.price?.doubleValue, "PARTIALLY_FILLED", at, false, at,
                    ]
                )
            case .failedOrders:
                let params = #"{"symbol": "\#(r.symbol)", "side": "\#(r.side.rawValue)", "order_id": "\#(r.exchangeOrderID)"}"#
                add(
                    item,
                    """
                    INSERT INTO failed_orders (strategy_account_id, symbol, side, order_type, quantity, price, market_type, reason, exchange_error,
                        order_params, operation_type, original_order_id, status, retry_count, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, \(json), ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.link.rawValue, r.symbol, r.side.rawValue, r.orderType.rawValue, r.quantity.doubleValue, r.price?.doubleValue, market,
                        r.operationType == "CANCEL" ? "cancel failed" : "create failed", "timeout", params, r.operationType,
                        r.operationType == "CANCEL" ? r.exchangeOrderID : nil, "pending_retry", 0, at, at,
                    ]
                )
            }
        }
        let list = statements
        try await backend.write { conn in
            for (n, s) in list.enumerated() {
                if n == sequencesAt { try await Self.advanceSequences(conn) }
                do {
                    try await conn.execute(s.sql, s.arguments)
                } catch let error as StoreError {
                    throw StoreError.loadRejected(item: s.item, message: error.description)
                }
            }
            if sequencesAt >= list.count { try await Self.advanceSequences(conn) }
        }
    }

    /// After rows with explicit ids, PostgreSQL's sequences must move past them so the origin's next
    /// insert does not collide (SQLite needs nothing).
    static func advanceSequences(_ conn: any SQLConnection) async throws {
        guard conn.dialect == .postgres else { return }
        for table in ["users", "accounts", "strategies", "strategy_accounts", "open_orders"] {
            try await conn.execute("SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT max(id) FROM \(table)), 0) + 1, false)")
        }
    }
}
