// The record of alerts (`sync_alerts`, issue #17): one row per alert key and sink with its
// delivery state, written before the alert is sent so that a sink that never answers still leaves
// the alert in the database. The origin's `users` table is read for per-user Telegram chats.
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The delivery state of an alert at one sink.
public enum AlertState: String, Sendable, Hashable, CaseIterable {
    /// Recorded, not delivered yet (being tried, or waiting for its turn or a retry).
    case pending
    case sent
    /// Every attempt failed; `last_error` says why.
    case failed
    /// Not sent: the sink's queue was full.
    case dropped
}

/// One row of `sync_alerts`.
public struct AlertRecord: Sendable, Hashable {
    public var id: Int64
    public var key: String
    public var sink: String
    public var kind: String
    public var accountID: AccountID?
    public var strategyAccountID: StrategyLinkID?
    public var exchangeOrderID: String?
    public var message: String
    public var payloadJSON: String
    public var state: AlertState
    public var attempts: Int
    public var lastError: String?
    public var createdAt: Millis
    public var updatedAt: Millis
}

/// Where a user of the origin app is told about their accounts (`users.telegram_id`, and their own
/// bot when `users.telegram_bot_token` is set).
public struct AlertRecipient: Sendable, Hashable {
    public var userID: Int64
    public var chatID: String
    public var botToken: Secret?
}

extension OrderDatabase {
    /// Records `alert` for `sink` as pending; nil when this key was recorded for this sink before
    /// (it is then not sent again).
    public func recordAlert(_ alert: Alert, sink: String, payloadJSON: String, now: Millis) async throws -> Int64? {
        try await backend.write { conn in
            try await conn.query(
                """
                INSERT INTO sync_alerts (alert_key, sink, kind, account_id, strategy_account_id, exchange_order_id, message, payload_json,
                    state, attempts, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                ON CONFLICT (alert_key, sink) DO NOTHING
                RETURNING id
                """,
                [
                    alert.key, sink, alert.kind.rawValue, alert.accountID?.rawValue, alert.strategyAccountID?.rawValue, alert.exchangeOrderID,
                    alert.text, payloadJSON, now, now,
                ]
            ).first?.int(0)
        }
    }

    /// Updates an alert's delivery state after an attempt.
    public func updateAlert(_ id: Int64, state: AlertState, attempts: Int, error: String?, now: Millis) async throws {
        try await backend.write { conn in
            try await conn.execute(
                "UPDATE sync_alerts SET state = ?, attempts = ?, last_error = ?, updated_at = ? WHERE id = ?",
                [state.rawValue, attempts, error, now, id]
            )
        }
    }

    /// The alerts recorded since `since` (ms), oldest first.
    public func alerts(since: Millis = 0) async throws -> [AlertRecord] {
        try await backend.read { conn in
            try await conn.query(
                """
                SELECT id, alert_key, sink, kind, account_id, strategy_account_id, exchange_order_id, message, payload_json, state, attempts,
                    last_error, created_at, updated_at
                FROM sync_alerts WHERE created_at >= ? ORDER BY id
                """,
                [since]
            ).map { r in
                AlertRecord(
                    id: r.int(0) ?? 0,
                    key: r.text(1) ?? "",
                    sink: r.text(2) ?? "",
                    kind: r.text(3) ?? "",
                    accountID: r.int(4).map(AccountID.init),
                    strategyAccountID: r.int(5).map(StrategyLinkID.init),
                    exchangeOrderID: r.text(6),
                    message: r.text(7) ?? "",
                    payloadJSON: r.text(8) ?? "",
                    state: AlertState(rawValue: r.text(9) ?? "") ?? .pending,
                    attempts: Int(r.int(10) ?? 0),
                    lastError: r.text(11),
                    createdAt: r.int(12) ?? 0,
                    updatedAt: r.int(13) ?? 0
                )
            }
        }
    }

    /// Per account, the Telegram chat of the user who owns it, when that user set one
    /// (`users.telegram_id`, the origin's per-user notification setting).
    public func alertRecipients() async throws -> [AccountID: AlertRecipient] {
        try await backend.read { conn in
            var recipients: [AccountID: AlertRecipient] = [:]
            for r in try await conn.query(
                """
                SELECT a.id, u.id, u.telegram_id, u.telegram_bot_token FROM accounts a JOIN users u ON u.id = a.user_id
                WHERE u.telegram_id IS NOT NULL AND u.telegram_id <> ''
                """
            ) {
                guard let account = r.int(0), let user = r.int(1), let chat = r.text(2)?.trimmingCharacters(in: .whitespaces), !chat.isEmpty
                else { continue }
                let token = r.text(3)?.trimmingCharacters(in: .whitespacesAndNewlines)
                recipients[AccountID(account)] = AlertRecipient(userID: user, chatID: chat, botToken: token.flatMap { $0.isEmpty ? nil : Secret($0) })
            }
            return recipients
        }
    }
}
