import SyncCore

/// `(?, ?), (?, ?)` for a multi-row `VALUES` of `rows` rows of `columns` values.
func valueRows(_ rows: Int, columns: Int) -> String {
    let row = "(" + placeholders(columns) + ")"
    return Array(repeating: row, count: rows).joined(separator: ", ")
}

/// Splits work into statements of at most `size` rows (bound parameters stay far below both backends' limits).
func chunks<T>(_ items: [T], of size: Int = 100) -> [ArraySlice<T>] {
    stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)] }
}

extension OrderDatabase: CancelStore {
    /// A strategy by `group_name` with its links, their accounts' owners and the webhook tokens
    /// of the users who may act on it (active users only); nil when no strategy has that name.
    public func strategyAccess(groupName: String) async throws -> StrategyAccess? {
        try await backend.read { conn in
            guard let s = try await conn.query("SELECT id, group_name, user_id, is_active FROM strategies WHERE group_name = ?", [groupName]).first
            else { return nil }
            let strategy = s.int(0) ?? 0
            let links = try await conn.query(
                """
                SELECT sa.id, sa.account_id, a.user_id, st.market_type, sa.is_active, a.is_active, a.exchange
                FROM strategy_accounts sa
                JOIN accounts a ON a.id = sa.account_id
                JOIN strategies st ON st.id = sa.strategy_id
                WHERE sa.strategy_id = ? ORDER BY sa.id
                """,
                [strategy]
            ).map { r in
                StrategyAccess.Link(
                    link: StrategyLinkID(r.int(0) ?? 0),
                    account: AccountID(r.int(1) ?? 0),
                    accountOwner: UserID(r.int(2) ?? 0),
                    market: Market(stored: r.text(3) ?? "") ?? .spot,
                    isActive: (r.bool(4) ?? false) && (r.bool(5) ?? false),
                    exchange: (r.text(6) ?? "").uppercased()
                )
            }
            let users = Set([s.int(2) ?? 0] + links.map(\.accountOwner.rawValue)).sorted()
            var tokens: [UserID: Secret] = [:]
            for r in try await conn.query(
                """
                SELECT id, webhook_token, is_active FROM users
                WHERE id IN (\(placeholders(users.count))) AND webhook_token IS NOT NULL AND webhook_token != ''
                """,
                users
            ) where r.bool(2) == true {
                tokens[UserID(r.int(0) ?? 0)] = Secret(r.text(1) ?? "")
            }
            return StrategyAccess(
                strategy: StrategyID(strategy),
                groupName: s.text(1) ?? "",
                owner: UserID(s.int(2) ?? 0),
                isActive: s.bool(3) ?? false,
                links: links,
                tokens: tokens
            )
        }
    }

    public func recordCancelIntents(requestID: String, rows: [(row: OpenOrderRow, account: AccountID)], now: Millis) async throws {
        guard !rows.isEmpty else { return }
        let items = rows.map { (row: $0.row, account: $0.account) }
        try await backend.write { conn in
            // 500 rows a statement (4,500 parameters, far below both backends' limits): a 2,000-order
            // fan-out records its intents in four statements.
            for chunk in chunks(items, of: 500) {
                var arguments: [any SQLArgument] = []
                for (row, account) in chunk {
                    arguments += [
                        requestID, row.link.rawValue, account.rawValue, row.market.rawValue, row.id.rawValue,
                        row.exchangeOrderID.rawValue, row.symbol, "pending", now,
                    ]
                }
                try await conn.execute(
                    """
                    INSERT INTO sync_cancel_intents (request_id, strategy_account_id, account_id, market, open_order_id, exchange_order_id,
                        symbol, state, created_at)
                    VALUES \(valueRows(chunk.count, columns: 9))
                    """,
                    arguments
                )
            }
        }
    }

    /// One transaction: every intent resolved, and the rows whose orders the exchange confirmed
    /// final moved from `open_orders` into history — unless the origin holds the row (then it
    /// stays, and the reconciler closes it once released). The resolutions may span accounts (the
    /// canceller's group commit); each account's are whole in this transaction.
    public func resolveCancels(requestID: String, _ resolutions: [CancelResolution], now: Millis) async throws {
        guard !resolutions.isEmpty else { return }
        if dialect == .postgres {
            // Data-modifying CTEs: a statement is atomic by itself, and on a server every round trip
            // counts. Up to 1,000 orders (17,000 parameters) a statement; more in one transaction.
            let parts = chunks(resolutions, of: 1000).map { Self.postgresResolution(requestID: requestID, Array($0), now: now) }
            if parts.count == 1 {
                let values = parts[0].1.map(\.sqlValue)
                _ = try await backend.read { try await $0.query(parts[0].0, values) }
                return
            }
            try await backend.write { conn in
                for (sql, arguments) in parts { _ = try await conn.query(sql, arguments) }
            }
            return
        }
        try await backend.write { conn in
            for chunk in chunks(resolutions) {
                var arguments: [any SQLArgument] = []
                for r in chunk {
                    arguments += [r.row.id.rawValue, r.outcome.intentState.rawValue, r.outcome.finalOrder?.status.phase.rawValue, r.outcome.reason]
                }
                arguments += [now, requestID]
                try await conn.execute(
                    """
                    WITH v(oid, st, fs, rs) AS (VALUES \(valueRows(chunk.count, columns: 4)))
                    UPDATE sync_cancel_intents SET state = v.st, final_status = v.fs, reason = v.rs,
                        resolved_at = CASE WHEN v.st = 'unknown' THEN NULL ELSE ? END
                    FROM v WHERE sync_cancel_intents.request_id = ? AND sync_cancel_intents.open_order_id = v.oid
                    """,
                    arguments
                )
            }
            // The exchange confirmed a final state: those rows leave open_orders, into history.
            let final = resolutions.filter { $0.outcome.finalOrder != nil }
            for chunk in chunks(final) {
                // `id IN (…)` first: with only the row-value test and the hold, SQLite's planner
                // scans open_orders through its is_processing index, every row of it, per statement.
                var arguments: [any SQLArgument] = chunk.map { $0.row.id.rawValue }
                for r in chunk { arguments += [r.row.id.rawValue, r.row.exchangeOrderID.rawValue] }
                arguments += [false, Timestamp(now - OriginRules.staleProcessingLock)]
                let deleted = Set(
                    try await conn.query(
                        """
                        DELETE FROM open_orders WHERE id IN (\(placeholders(chunk.count)))
                            AND (id, exchange_order_id) IN (VALUES \(valueRows(chunk.count, columns: 2)))
                            AND (is_processing = ? OR processing_started_at < ?)
                        RETURNING id
                        """,
                        arguments
                    ).compactMap { $0.int(0) }
                )
                let gone = chunk.filter { deleted.contains($0.row.id.rawValue) }
                guard !gone.isEmpty else { continue }
                var history: [any SQLArgument] = []
                var misses: [any SQLArgument] = []
                for r in gone {
                    let row = r.row
                    let order = r.outcome.finalOrder!
                    history += [
                        row.id.rawValue, row.link.rawValue, r.account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue,
                        row.symbol, row.side.rawValue, row.orderType.rawValue, row.price?.description, row.stopPrice?.description,
                        row.quantity.description, order.executedQuantity.description, order.status.phase.rawValue, "cancel", row.createdAt, now,
                    ]
                    misses += [r.account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue]
                }
                try await conn.execute(
                    """
                    INSERT INTO sync_order_history (open_order_id, strategy_account_id, account_id, market, exchange_order_id, symbol,
                        side, order_type, price, stop_price, quantity, filled_quantity, final_status, source, created_at, closed_at)
                    VALUES \(valueRows(gone.count, columns: 16))
                    """,
                    history
                )
                try await conn.execute(
                    """
                    DELETE FROM sync_misses WHERE (account_id, market, exchange_order_id) IN (VALUES \(valueRows(gone.count, columns: 3)))
                    """,
                    misses
                )
            }
        }
    }

    /// PostgreSQL's form of a resolution as a single statement of data-modifying CTEs: the intents
    /// resolved, the confirmed rows deleted (unless the origin holds them) and moved into history,
    /// their miss counts dropped — the same effects as the transaction SQLite runs.
    static func postgresResolution(requestID: String, _ resolutions: [CancelResolution], now: Millis) -> (String, [any SQLArgument]) {
        var arguments: [any SQLArgument] = []
        func p(_ value: any SQLArgument) -> String {
            arguments.append(value)
            return "$\(arguments.count)"
        }
        let intents = resolutions.map { r in
            "(\(p(r.row.id.rawValue))::bigint, \(p(r.outcome.intentState.rawValue))::text, \(p(r.outcome.finalOrder?.status.phase.rawValue))::text, \(p(r.outcome.reason))::text)"
        }.joined(separator: ", ")
        var sql = """
            WITH v(oid, st, fs, rs) AS (VALUES \(intents)),
            upd AS (
                UPDATE sync_cancel_intents i SET state = v.st, final_status = v.fs, reason = v.rs,
                    resolved_at = CASE WHEN v.st = 'unknown' THEN NULL ELSE \(p(now))::bigint END
                FROM v WHERE i.request_id = \(p(requestID)) AND i.open_order_id = v.oid RETURNING i.id)
            """
        let final = resolutions.filter { $0.outcome.finalOrder != nil }
        if !final.isEmpty {
            let rows = final.map { r in
                let row = r.row
                let order = r.outcome.finalOrder!
                var cells: [String] = []
                cells.append(p(row.id.rawValue) + "::bigint")
                cells.append(p(row.exchangeOrderID.rawValue) + "::text")
                cells.append(p(row.link.rawValue) + "::bigint")
                cells.append(p(r.account.rawValue) + "::bigint")
                cells.append(p(row.market.rawValue) + "::text")
                cells.append(p(row.symbol) + "::text")
                cells.append(p(row.side.rawValue) + "::text")
                cells.append(p(row.orderType.rawValue) + "::text")
                cells.append(p(row.price?.description) + "::text")
                cells.append(p(row.stopPrice?.description) + "::text")
                cells.append(p(row.quantity.description) + "::text")
                cells.append(p(order.executedQuantity.description) + "::text")
                cells.append(p(order.status.phase.rawValue) + "::text")
                cells.append(p(row.createdAt) + "::bigint")
                return "(" + cells.joined(separator: ", ") + ")"
            }.joined(separator: ", ")
            sql += """
                ,
                f(oid, eid, link, account, market, symbol, side, otype, price, stop, qty, filled, status, created) AS (VALUES \(rows)),
                del AS (
                    DELETE FROM open_orders o USING f WHERE o.id = f.oid AND o.exchange_order_id = f.eid
                        AND (o.is_processing = false OR o.processing_started_at < \(p(Timestamp(now - OriginRules.staleProcessingLock))))
                    RETURNING o.id),
                hist AS (
                    INSERT INTO sync_order_history (open_order_id, strategy_account_id, account_id, market, exchange_order_id, symbol,
                        side, order_type, price, stop_price, quantity, filled_quantity, final_status, source, created_at, closed_at)
                    SELECT f.oid, f.link, f.account, f.market, f.eid, f.symbol, f.side, f.otype, f.price, f.stop, f.qty,
                        f.filled, f.status, 'cancel', f.created, \(p(now))::bigint
                    FROM f JOIN del ON del.id = f.oid),
                mis AS (
                    DELETE FROM sync_misses m USING f JOIN del ON del.id = f.oid
                    WHERE m.account_id = f.account AND m.market = f.market AND m.exchange_order_id = f.eid)
                """
        }
        sql += "\nSELECT count(*) FROM upd"
        return (sql, arguments)
    }

    public func unresolvedCancels() async throws -> [PendingCancel] {
        try await backend.read { conn in
            let intents = try await conn.query(
                """
                SELECT request_id, account_id, open_order_id FROM sync_cancel_intents
                WHERE state IN ('pending', 'sent', 'unknown') ORDER BY id
                """
            )
            guard !intents.isEmpty else { return [] }
            let ids = intents.compactMap { $0.int(2) }
            var rows: [Int64: OpenOrderRow] = [:]
            for chunk in chunks(ids, of: 500) {
                for r in try await conn.query(Self.rowSelect + " AND o.id IN (\(placeholders(chunk.count)))", Array(chunk)) {
                    let row = try Self.decodeRow(r)
                    rows[row.id.rawValue] = row
                }
            }
            return intents.map { r in
                let id = r.int(2) ?? 0
                return PendingCancel(requestID: r.text(0) ?? "", account: AccountID(r.int(1) ?? 0), openOrderID: OpenOrderRowID(id), row: rows[id])
            }
        }
    }

    public func settleCancelsWithoutRows(requestID: String, openOrderIDs: [OpenOrderRowID], now: Millis) async throws {
        let ids = openOrderIDs.map(\.rawValue)
        try await backend.write { conn in
            for chunk in chunks(ids, of: 500) {
                try await conn.execute(
                    """
                    UPDATE sync_cancel_intents SET state = 'closed', reason = 'the row had already left open_orders', resolved_at = ?
                    WHERE request_id = ? AND open_order_id IN (\(placeholders(chunk.count))) AND state IN ('pending', 'sent', 'unknown')
                    """,
                    [now, requestID] + Array(chunk)
                )
            }
        }
    }

    /// Cancel intents by state (for reports and tests).
    public func cancelIntentStates() async throws -> [String: Int] {
        try await backend.read { conn in
            var states: [String: Int] = [:]
            for r in try await conn.query("SELECT state, count(*) FROM sync_cancel_intents GROUP BY state") {
                states[r.text(0) ?? ""] = Int(r.int(1) ?? 0)
            }
            return states
        }
    }
}
