import Scenarios
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Runs and plans: a pass's run, its findings and the plan applied in one transaction.
extension OrderDatabase {
    /// Starts a run record; returns its id.
    public func beginRun(trigger: String, now: Millis) async throws -> Int64 {
        try await backend.write { conn in
            let rows = try await conn.query("INSERT INTO sync_runs (trigger, started_at) VALUES (?, ?) RETURNING id", [trigger, now])
            guard let id = rows.first?.int(0) else { throw StoreError.database("sync_runs: no id returned") }
            return id
        }
    }

    /// Closes a run record with its totals.
    public func finishRun(_ id: Int64, report: DriftReport) async throws {
        let totals = String(decoding: try JSONEncoder().encode(report.totals), as: UTF8.self)
        try await backend.write { conn in
            try await conn.execute(
                "UPDATE sync_runs SET finished_at = ?, status = ?, sections = ?, totals_json = ? WHERE id = ?",
                [report.finishedAt, report.errorCount == 0 ? "ok" : "errors", report.sections.count, totals, id]
            )
        }
    }

    /// Applies one account-market plan and records its findings (all but `matched`), in one
    /// transaction. `recordSweep`: whether a complete sweep is remembered (`sync_sweeps`) — only
    /// worth a write when the next passes might list per symbol and so need to know when the last
    /// sweep was; a venue whose every listing is a full one never reads it.
    public func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis, recordSweep: Bool = true) async throws -> ApplyResult {
        let sweep = plan.isCompleteSweep && recordSweep
        // A quiet pass (everything matched, nothing to do or record) writes nothing.
        if !sweep && plan.housekeeping.isEmpty && plan.findings.allSatisfy({ $0.kind == .matched && $0.actions.isEmpty }) {
            return ApplyResult()
        }
        return try await backend.write { conn in try await Self.apply(plan, runID: runID, now: now, recordSweep: sweep, conn: conn) }
    }

    /// A row leaves `open_orders` into `sync_order_history`: only if it still names the order and
    /// the origin does not hold it. Returns whether it left.
    static func close(
        _ row: OpenOrderRow,
        account: AccountID,
        finalStatus: String,
        filled: Amount,
        source: String,
        runID: Int64?,
        now: Millis,
        conn: any SQLConnection
    ) async throws -> Bool {
        let deleted = try await conn.query(
            """
            DELETE FROM open_orders WHERE id = ? AND exchange_order_id = ?
                AND (is_processing = ? OR processing_started_at < ?)
            RETURNING id
            """,
            [row.id.rawValue, row.exchangeOrderID.rawValue, false, Timestamp(now - OriginRules.staleProcessingLock)]
        )
        guard !deleted.isEmpty else { return false }
        try await conn.execute(
            """
            INSERT INTO sync_order_history (open_order_id, strategy_account_id, account_id, market, exchange_order_id, symbol,
                side, order_type, price, stop_price, quantity, filled_quantity, final_status, source, run_id, created_at, closed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                row.id.rawValue, row.link.rawValue, account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue, row.symbol,
                row.side.rawValue, row.orderType.rawValue, row.price?.description, row.stopPrice?.description,
                row.quantity.description, filled.description, finalStatus, source, runID, row.createdAt, now,
            ]
        )
        try await conn.execute(
            "DELETE FROM sync_misses WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
            [account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue]
        )
        return true
    }

    static func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis, recordSweep: Bool, conn: any SQLConnection) async throws -> ApplyResult {
        var result = ApplyResult()
        let account = plan.account.rawValue
        let market = plan.market.rawValue
        let stamp = Timestamp(now)
        func perform(_ action: PlanAction) async throws -> String {
            switch action {
            case .updateRow(let id, let readUpdatedAt, let u):
                // Only if the row still has the updated_at the decision saw and the origin does not hold it.
                guard
                    let stored = try await conn.query(
                        "SELECT updated_at, is_processing, processing_started_at FROM open_orders WHERE id = ?" + conn.dialect.forUpdate,
                        [id.rawValue]
                    ).first
                else { return "skipped: row already gone" }
                guard (try? Values.millis(stored[0], table: "open_orders", id: id.rawValue, column: "updated_at")) == readUpdatedAt else {
                    return "skipped: row changed since read"
                }
                if stored.bool(1) == true {
                    let started = try? Values.optionalMillis(stored[2], table: "open_orders", id: id.rawValue, column: "processing_started_at")
                    if started.flatMap({ $0 }).map({ now - $0 < OriginRules.staleProcessingLock }) ?? true { return "skipped: held by the origin" }
                }
                try await conn.execute(
                    """
                    UPDATE open_orders SET status = COALESCE(?, status), filled_quantity = ?, quantity = ?, price = ?, stop_price = ?, updated_at = ?
                    WHERE id = ?
                    """,
                    [
                        u.status?.rawValue, u.filledQuantity.doubleValue, u.quantity.doubleValue, u.price.doubleValue,
                        u.stopPrice?.doubleValue, stamp, id.rawValue,
                    ]
                )
                return "applied"
            case .closeRow(let row, let status, let filled):
                let closed = try await close(
                    row,
                    account: plan.account,
                    finalStatus: status.phase.rawValue,
                    filled: filled,
                    source: "reconcile",
                    runID: runID,
                    now: now,
                    conn: conn
                )
                return closed ? "applied" : "skipped: row gone or held by the origin"
            case .adopt(let a):
                let o = a.order
                guard let state = o.status.openState else { return "skipped: order not open" }
                // Every NOT NULL column, with the origin's own defaults (is_processing false; webhook_received_at
                // NULL as on its single-order path).
                let inserted = try await conn.query(
                    """
                    INSERT INTO open_orders (strategy_account_id, exchange_order_id, symbol, side, order_type, price, stop_price,
                        quantity, filled_quantity, status, market_type, created_at, updated_at, is_processing)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (exchange_order_id) DO NOTHING
                    RETURNING id
                    """,
                    [
                        a.link.rawValue, o.id.rawValue, a.symbol, o.side.rawValue, a.orderType.rawValue,
                        o.price.isZero && a.orderType == .market ? nil : o.price.doubleValue, o.stopPrice?.doubleValue,
                        o.quantity.doubleValue, o.executedQuantity.doubleValue, state.rawValue, a.marketText,
                        Timestamp(o.time), stamp, false,
                    ]
                )
                return inserted.isEmpty ? "skipped: a row for this order appeared" : "applied"
            case .repairPlaceholder(let r):
                // Only while the row still has its placeholder id and the status it was read with (the
                // origin may be changing it now), the origin does not hold it, and no row has the real id.
                let o = r.order
                let changed = try await conn.query(
                    """
                    UPDATE open_orders SET exchange_order_id = ?, status = ?, filled_quantity = ?, updated_at = ?
                    WHERE id = ? AND exchange_order_id = ? AND status = ? AND (is_processing = ? OR processing_started_at < ?)
                        AND NOT EXISTS (SELECT 1 FROM open_orders other WHERE other.exchange_order_id = ?)
                    RETURNING id
                    """,
                    [
                        o.id.rawValue, r.status.rawValue, o.executedQuantity.doubleValue, stamp, r.row.rawValue,
                        r.placeholderID.rawValue, r.readStatus, false, Timestamp(now - OriginRules.staleProcessingLock), o.id.rawValue,
                    ]
                )
                return changed.isEmpty ? "skipped: placeholder row changed since read" : "applied"
            case .recordMiss(let id, let count):
                try await conn.execute(
                    """
                    INSERT INTO sync_misses (account_id, market, exchange_order_id, misses, first_missed_at, last_missed_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (account_id, market, exchange_order_id) DO UPDATE SET misses = excluded.misses, last_missed_at = excluded.last_missed_at
                    """,
                    [account, market, id.rawValue, count, now, now]
                )
                return "applied"
            case .clearMisses(let id):
                try await conn.execute(
                    "DELETE FROM sync_misses WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
                    [account, market, id.rawValue]
                )
                return "applied"
            case .registerOrphan(let o), .refreshOrphan(let o):
                try await conn.execute(
                    """
                    INSERT INTO sync_orphans (account_id, market, exchange_order_id, client_order_id, symbol, side, order_type, status,
                        price, stop_price, quantity, executed_quantity, order_time, first_seen_at, last_seen_at, times_seen)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                    ON CONFLICT (account_id, market, exchange_order_id) DO UPDATE SET
                        client_order_id = excluded.client_order_id, status = excluded.status, price = excluded.price,
                        stop_price = excluded.stop_price, quantity = excluded.quantity, executed_quantity = excluded.executed_quantity,
                        last_seen_at = excluded.last_seen_at, times_seen = sync_orphans.times_seen + 1
                    """,
                    [
                        account, market, o.id.rawValue, o.clientOrderID, o.symbol, o.side.rawValue, o.type.rawValue,
                        o.status.venueText, o.price.description, o.stopPrice?.description, o.quantity.description,
                        o.executedQuantity.description, o.time, now, now,
                    ]
                )
                return "applied"
            case .forgetOrphan(let id):
                try await conn.execute(
                    "DELETE FROM sync_orphans WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
                    [account, market, id.rawValue]
                )
                return "applied"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for finding in plan.findings {
            var outcomes: [String] = []
            for action in finding.actions {
                let outcome = try await perform(action)
                if outcome == "applied" {
                    result.applied += 1
                } else {
                    result.skipped += 1
                    outcomes.append(outcome)
                }
            }
            guard finding.kind != .matched else { continue }
            let changes = finding.changes.isEmpty ? nil : String(decoding: try encoder.encode(finding.changes), as: UTF8.self)
            try await conn.execute(
                """
                INSERT INTO sync_findings (run_id, account_id, market, kind, exchange_order_id, client_order_id, symbol, side,
                    strategy_account_id, open_order_id, detail, changes_json, outcome, created_at, evidence)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    runID, account, market, finding.kind.rawValue, finding.exchangeOrderID?.rawValue, finding.clientOrderID,
                    finding.symbol, finding.side?.rawValue, finding.link?.rawValue, finding.row?.rawValue, finding.detail,
                    changes, outcomes.first ?? (finding.actions.isEmpty ? "none" : "applied"), now, finding.evidence,
                ]
            )
        }
        for action in plan.housekeeping { _ = try await perform(action) }
        if recordSweep {
            try await conn.execute(
                """
                INSERT INTO sync_sweeps (account_id, market, last_sweep_at, last_sweep_run) VALUES (?, ?, ?, ?)
                ON CONFLICT (account_id, market) DO UPDATE SET last_sweep_at = excluded.last_sweep_at, last_sweep_run = excluded.last_sweep_run
                """,
                [account, market, now, runID]
            )
        }
        return result
    }
}
