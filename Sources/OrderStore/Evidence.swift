import Scenarios
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The origin's evidence of ownership (issue #12): its records of order ids and its placeholder rows.
extension OrderDatabase {
    /// The origin's records of the requested order ids (one statement over every evidence table,
    /// 200 ids at a time) and the account's placeholder rows created in the range (one statement),
    /// read together: one access on SQLite, one connection on PostgreSQL. Read only.
    public func originEvidence(_ request: EvidenceRequest) async throws -> OriginEvidence {
        var queries: [SQLQuery] = []
        let tables = evidenceTables
        if !tables.isEmpty {
            for start in stride(from: 0, to: request.orderIDs.count, by: 200) {
                let chunk = Array(request.orderIDs[start..<min(start + 200, request.orderIDs.count)])
                let list = placeholders(chunk.count)
                var parts: [String] = []
                var arguments: [any SQLArgument] = []
                for table in OriginRecord.Table.allCases where tables.contains(table) {
                    parts.append(Self.recordSelect(table, list: list))
                    arguments += chunk
                }
                queries.append(SQLQuery(parts.joined(separator: " UNION ALL "), arguments))
            }
        }
        let recordStatements = queries.count
        queries.append(
            SQLQuery(
                Self.rowColumns + """
                     WHERE sa.account_id = ? AND o.exchange_order_id LIKE 'PENDING-%' AND UPPER(o.status) IN ('PENDING', 'FAILED')
                        AND o.created_at >= ? AND o.created_at <= ?
                    ORDER BY o.id
                    """,
                [request.account.rawValue, Timestamp(request.placeholdersCreated.lowerBound), Timestamp(request.placeholdersCreated.upperBound)]
            )
        )
        let batch = queries
        let results = try await backend.read { try await $0.batch(batch) }
        var evidence = OriginEvidence(statements: batch.count)
        for rows in results.prefix(recordStatements) {
            for r in rows {
                guard let table = OriginRecord.Table(rawValue: r.text(0) ?? ""), let link = r.int(2), let id = r.text(3) else { continue }
                evidence.records.append(
                    OriginRecord(
                        table: table,
                        id: r.int(1) ?? 0,
                        exchangeOrderID: id,
                        link: StrategyLinkID(link),
                        symbol: r.text(4),
                        marketText: r.text(5)
                    )
                )
            }
        }
        evidence.placeholders = try results[recordStatements].map(Self.decodeRow)
        return evidence
    }

    /// One evidence table's part of the records statement: (table, id, link, order id, symbol, market).
    static func recordSelect(_ table: OriginRecord.Table, list: String) -> String {
        switch table {
        case .trades, .tradeExecutions:
            return "SELECT '\(table.rawValue)', id, strategy_account_id, exchange_order_id, symbol, market_type FROM \(table.rawValue) "
                + "WHERE exchange_order_id IN (\(list)) AND strategy_account_id IS NOT NULL"
        case .orderFillEvents:
            return "SELECT 'order_fill_events', id, strategy_account_id, exchange_order_id, symbol, CAST(NULL AS VARCHAR(10)) FROM order_fill_events "
                + "WHERE exchange_order_id IN (\(list))"
        case .failedOrders:
            return "SELECT 'failed_orders', id, strategy_account_id, original_order_id, symbol, market_type FROM failed_orders "
                + "WHERE original_order_id IN (\(list))"
        }
    }
}
