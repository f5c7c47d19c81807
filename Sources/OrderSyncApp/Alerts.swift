import AsyncHTTPClient
import Crypto
import Metrics
import NIOCore
import OrderStore
import SyncCore
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The sinks `serve` tells, resolved from `[alerts]` and the origin's variables.
public struct AlertSinks: Sendable {
    public struct Telegram: Sendable {
        public var baseURL: String
        /// The operator's bot and chat (every alert), when both are set.
        public var botToken: Secret?
        public var chatID: String?
        /// Users' own chats (`users.telegram_id`) for their accounts.
        public var perUser: Bool
    }
    public struct Webhook: Sendable {
        public var url: String
        public var secret: Secret
    }
    public var telegram: Telegram
    public var webhook: Webhook?
    /// Every alert as a line of `serve`'s output (sink `log`).
    public var printer: (@Sendable (String) -> Void)?
    public var perMinute: Int
    public var maxAttempts: Int
    public var retryBackoffMs: Millis
    public var timeout: Duration
    public var queueLimit: Int

    public init(_ config: OrdersyncConfig.Alerts, environment: [String: String]) {
        let token = config.telegramBotToken ?? environment["TELEGRAM_BOT_TOKEN"]
        let chat = config.telegramChatID ?? environment["TELEGRAM_CHAT_ID"]
        telegram = Telegram(
            baseURL: config.telegramURL,
            botToken: token.flatMap { $0.isEmpty ? nil : Secret($0) },
            chatID: chat.flatMap { $0.isEmpty ? nil : $0 },
            perUser: config.telegramPerUser
        )
        if let url = config.webhookURL, let secret = config.webhookSecret { webhook = Webhook(url: url, secret: Secret(secret)) }
        perMinute = config.perMinute
        maxAttempts = config.maxAttempts
        retryBackoffMs = config.retryBackoffMs
        timeout = .milliseconds(Int64(config.timeoutMs))
        queueLimit = config.queueLimit
    }
}

/// Alerts from the daemon's passes and cancels: the rules decide on the caller's task (no I/O);
/// everything after — the `sync_alerts` record, the sinks, their rate limits and retries — runs on
/// tasks of its own, so that a sink that hangs or fails never slows a pass or a cancel.
public final class Alerter: Sendable {
    let rules: Mutex<AlertRules>
    let intake: AsyncStream<[Alert]>.Continuation
    let worker: Task<Void, Never>
    let dispatcher: AlertDispatcher

    public init(sinks: AlertSinks, rules: AlertRules, store: OrderDatabase, now: @escaping @Sendable () -> Millis) {
        self.rules = Mutex(rules)
        let (stream, intake) = AsyncStream.makeStream(of: [Alert].self, bufferingPolicy: .bufferingNewest(10_000))
        self.intake = intake
        let dispatcher = AlertDispatcher(sinks: sinks, store: store, now: now)
        self.dispatcher = dispatcher
        worker = Task {
            for await batch in stream { await dispatcher.dispatch(batch) }
        }
    }

    /// The alerts a pass raises, handed over; returns at once.
    public func observe(_ report: DriftReport) {
        let alerts = rules.withLock { $0.observe(report) }
        if !alerts.isEmpty { intake.yield(alerts) }
    }

    /// The alerts a cancel raises, handed over; returns at once.
    public func observe(_ report: CancelReport, at: Millis) {
        let alerts = AlertRules.alerts(report, at: at)
        if !alerts.isEmpty { intake.yield(alerts) }
    }

    /// Stops taking alerts and gives deliveries under way up to `grace` to finish; what is left
    /// stays `pending` in `sync_alerts`.
    public func finish(grace: Duration = .seconds(5)) async {
        intake.finish()
        let worker = self.worker
        let dispatcher = self.dispatcher
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Past the grace the deliveries are cancelled (an attempt in flight with them), so
                // this returns promptly rather than after every queued attempt's deadline.
                await withTaskCancellationHandler {
                    await worker.value
                    await dispatcher.finish()
                } onCancel: {
                    worker.cancel()
                    Task { await dispatcher.cancel() }
                }
            }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
        await dispatcher.cancel()
    }
}

/// Records each alert for each of its sinks and queues it there; a sink's queue is worked by a
/// task of its own.
actor AlertDispatcher {
    let sinks: AlertSinks
    let store: OrderDatabase
    let now: @Sendable () -> Millis
    var destinations: [String: AlertDestination] = [:]
    /// Keys already recorded per sink (they are not recorded again; the table's key says so too).
    var recorded: Set<String> = []

    init(sinks: AlertSinks, store: OrderDatabase, now: @escaping @Sendable () -> Millis) {
        self.sinks = sinks
        self.store = store
        self.now = now
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    func dispatch(_ batch: [Alert]) async {
        var recipients: [AccountID: AlertRecipient] = [:]
        if sinks.telegram.perUser {
            recipients = (try? await store.alertRecipients()) ?? [:]
        }
        for alert in batch {
            for destination in destinations(for: alert, recipients: recipients) {
                let mark = destination.name + "\u{1F}" + alert.key
                guard !recorded.contains(mark) else { continue }
                let payload = String(decoding: (try? Self.encoder.encode(alert)) ?? Data("{}".utf8), as: UTF8.self)
                let id: Int64?
                do {
                    id = try await store.recordAlert(alert, sink: destination.name, payloadJSON: payload, now: now())
                } catch {
                    continue  // not recorded, not sent: the next pass raising it tries again
                }
                if recorded.count > 200_000 { recorded.removeAll() }
                recorded.insert(mark)
                guard let id else { continue }  // recorded before (an earlier run): sent once already
                if !destination.enqueue(AlertDelivery(id: id, alert: alert, payload: payload)) {
                    try? await store.updateAlert(id, state: .dropped, attempts: 0, error: "the sink's queue was full", now: now())
                    AlertDestination.count(alert, sink: destination.kind, state: .dropped)
                }
            }
        }
    }

    /// The sinks an alert goes to: the log, the JSON webhook, the operator's chat, the account
    /// owner's chat.
    func destinations(for alert: Alert, recipients: [AccountID: AlertRecipient]) -> [AlertDestination] {
        var list: [AlertDestination] = []
        if let printer = sinks.printer { list.append(destination("log", kind: "log") { .log(printer) }) }
        if let webhook = sinks.webhook { list.append(destination("webhook", kind: "webhook") { .webhook(webhook) }) }
        let telegram = sinks.telegram
        if let token = telegram.botToken, let chat = telegram.chatID {
            list.append(destination("telegram", kind: "telegram") { .telegram(base: telegram.baseURL, token: token, chat: chat) })
        }
        if let account = alert.accountID, let user = recipients[account], let token = user.botToken ?? telegram.botToken,
            user.chatID != telegram.chatID || user.botToken != nil
        {
            list.append(
                destination("telegram:user:\(user.userID)", kind: "telegram") { .telegram(base: telegram.baseURL, token: token, chat: user.chatID) }
            )
        }
        return list
    }

    func destination(_ name: String, kind: String, _ sender: () -> AlertSender) -> AlertDestination {
        if let existing = destinations[name] { return existing }
        // The log is not rate-limited: a line per alert costs nothing and hides nothing.
        let made = AlertDestination(
            name: name,
            kind: kind,
            sender: sender(),
            sinks: sinks,
            perMinute: kind == "log" ? nil : sinks.perMinute,
            store: store,
            now: now
        )
        destinations[name] = made
        return made
    }

    /// Waits until every queue is worked off.
    func finish() async {
        let all = Array(destinations.values)
        for destination in all { await destination.finish() }
    }

    func cancel() {
        for destination in destinations.values { destination.worker.cancel() }
    }
}

/// One alert for one sink.
struct AlertDelivery: Sendable {
    var id: Int64
    var alert: Alert
    var payload: String
}

/// How a sink is spoken to.
enum AlertSender: Sendable {
    case log(@Sendable (String) -> Void)
    case webhook(AlertSinks.Webhook)
    case telegram(base: String, token: Secret, chat: String)
}

/// What an attempt came to.
enum AlertAttempt: Sendable, Equatable {
    case sent
    /// Worth another attempt (after `retryAfter` seconds when the sink said so).
    case retry(String, retryAfter: Int?)
    /// Not worth another attempt (a refused token, an unknown chat).
    case refused(String)
}

/// A sink with its queue: one alert at a time, at most `perMinute` (nil: no limit), each tried up to
/// `max_attempts` times with doubling delays. A sink that hangs holds up only its own queue.
final class AlertDestination: Sendable {
    let name: String
    let kind: String
    let queue: AsyncStream<AlertDelivery>.Continuation
    let worker: Task<Void, Never>

    init(
        name: String,
        kind: String,
        sender: AlertSender,
        sinks: AlertSinks,
        perMinute: Int?,
        store: OrderDatabase,
        now: @escaping @Sendable () -> Millis
    ) {
        self.name = name
        self.kind = kind
        let (stream, queue) = AsyncStream.makeStream(of: AlertDelivery.self, bufferingPolicy: .bufferingOldest(sinks.queueLimit))
        self.queue = queue
        worker = Task {
            let clock = ContinuousClock()
            // A token bucket of `perMinute`, full at the start.
            let rate = perMinute ?? 0
            let interval = Duration.seconds(60) / max(rate, 1)
            var tokens = Double(rate)
            var refilled = clock.now
            for await delivery in stream {
                if rate > 0 {
                    let elapsed = clock.now - refilled
                    tokens = min(Double(rate), tokens + elapsed / interval)
                    refilled = clock.now
                    if tokens < 1 {
                        try? await clock.sleep(for: interval * (1 - tokens))
                        tokens = 1
                        refilled = clock.now
                    }
                    tokens -= 1
                }
                var attempt = 0
                while !Task.isCancelled {
                    attempt += 1
                    let outcome = await Self.send(delivery, sender, timeout: sinks.timeout)
                    let state: AlertState
                    let error: String?
                    switch outcome {
                    case .sent: (state, error) = (.sent, nil)
                    case .refused(let reason): (state, error) = (.failed, reason)
                    case .retry(let reason, _): (state, error) = (attempt >= sinks.maxAttempts ? .failed : .pending, reason)
                    }
                    try? await store.updateAlert(delivery.id, state: state, attempts: attempt, error: error, now: now())
                    if state != .pending {
                        Self.count(delivery.alert, sink: kind, state: state)
                        break
                    }
                    guard case .retry(_, let retryAfter) = outcome else { break }
                    let backoff = min(sinks.retryBackoffMs << min(attempt - 1, 20), 60_000)
                    let wait = retryAfter.map { Millis($0) * 1000 } ?? backoff
                    try? await clock.sleep(for: .milliseconds(wait))
                }
            }
        }
    }

    /// Queues a delivery; false when the queue is full.
    func enqueue(_ delivery: AlertDelivery) -> Bool {
        if case .enqueued = queue.yield(delivery) { return true }
        return false
    }

    func finish() async {
        queue.finish()
        await worker.value
    }

    static func count(_ alert: Alert, sink: String, state: AlertState) {
        Counter(label: "ordersync_alerts_total", dimensions: [("kind", alert.kind.rawValue), ("sink", sink), ("state", state.rawValue)])
            .increment()
    }

    static func send(_ delivery: AlertDelivery, _ sender: AlertSender, timeout: Duration) async -> AlertAttempt {
        switch sender {
        case .log(let print):
            print("alert \(delivery.alert.kind.rawValue): \(delivery.alert.text)")
            return .sent
        case .webhook(let hook):
            var request = HTTPClientRequest(url: hook.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Ordersync-Signature", value: "sha256=" + signature(delivery.payload, hook.secret))
            request.headers.add(name: "X-Ordersync-Delivery", value: String(delivery.id))
            request.body = .bytes(ByteBuffer(string: delivery.payload))
            return await post(request, timeout: timeout, secrets: [hook.secret]) { status, _ in
                switch status {
                case 200..<300: return .sent
                case 408, 429, 500...: return .retry("HTTP \(status)", retryAfter: nil)
                default: return .refused("HTTP \(status)")
                }
            }
        case .telegram(let base, let token, let chat):
            var request = HTTPClientRequest(url: "\(base)/bot\(token.reveal())/sendMessage")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let message = TelegramMessage(chat_id: chat, text: delivery.alert.text, disable_web_page_preview: true)
            request.body = .bytes(ByteBuffer(bytes: (try? AlertDispatcher.encoder.encode(message)) ?? Data()))
            return await post(request, timeout: timeout, secrets: [token]) { status, body in
                let answer = try? JSONDecoder().decode(TelegramAnswer.self, from: Data(body))
                let description = answer?.description.map { ": " + $0 } ?? ""
                if status == 200, answer?.ok == true { return .sent }
                let retryAfter = answer?.parameters?.retry_after
                switch status {
                case 429, 500...: return .retry("HTTP \(status)\(description)", retryAfter: retryAfter)
                default: return .refused("HTTP \(status)\(description)")
                }
            }
        }
    }

    /// Lower-case hex HMAC-SHA256 of the body.
    static func signature(_ body: String, _ secret: Secret) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.reveal().utf8)))
            .map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    /// Sends `request` within `timeout`; what the sink said, with any secret scrubbed from errors.
    static func post(
        _ request: HTTPClientRequest,
        timeout: Duration,
        secrets: [Secret],
        _ judge: (Int, [UInt8]) -> AlertAttempt
    ) async -> AlertAttempt {
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount.nanoseconds(Int64(timeout.nanoseconds)))
            let body = try await response.body.collect(upTo: 64 * 1024)
            return judge(Int(response.status.code), Array(buffer: body))
        } catch {
            var reason = "\(error)"
            for secret in secrets where !secret.reveal().isEmpty { reason = reason.replacingOccurrences(of: secret.reveal(), with: "***") }
            return .retry(reason, retryAfter: nil)
        }
    }
}

/// The Bot API's `sendMessage` (plain text: no parse mode, so nothing in a message is markup).
struct TelegramMessage: Encodable {
    var chat_id: String
    var text: String
    var disable_web_page_preview: Bool
}

/// The Bot API's answer: `{"ok": false, "error_code": 429, "description": …, "parameters": {"retry_after": 5}}`.
struct TelegramAnswer: Decodable {
    struct Parameters: Decodable { var retry_after: Int? }
    var ok: Bool
    var description: String?
    var parameters: Parameters?
}

extension Duration {
    var nanoseconds: Double { Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9 }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
