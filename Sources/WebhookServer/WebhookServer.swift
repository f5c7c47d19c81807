// WebhookServer — the HTTP edge of `ordersync serve` (README § Webhook): `POST /api/webhook` (the
// origin app's payload, CANCEL_ALL_ORDER and RECONCILE only), `GET /healthz`, `GET /metrics`.
// Invariants: a request changes nothing unless its token is valid for the strategy (compared in
// constant time, `test_mode` never a bypass); a subscriber's token reaches only that subscriber's
// accounts; tokens never reach a log line, response or metric; every error is
// `{"error": {"code", "message"}}` with the status in docs/openapi.yaml.
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import SyncCore

/// The request context: Hummingbird's storage and the client's address (rate limits are per IP).
public struct WebhookContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Liveness as `/healthz` reports it.
public struct Health: Sendable, Hashable, Codable {
    /// When the last reconciliation pass finished (nil: none yet).
    public var lastPassAt: Millis?
    /// Account-markets the last pass could not list.
    public var lastPassErrors: Int

    public init(lastPassAt: Millis?, lastPassErrors: Int) {
        self.lastPassAt = lastPassAt
        self.lastPassErrors = lastPassErrors
    }
}

/// What the webhook acts through (the composition root implements it over the store, the
/// canceller and the reconciler).
public protocol WebhookBackend: Sendable {
    func strategyAccess(groupName: String) async throws -> StrategyAccess?
    func cancel(_ target: CancelTarget, requestID: String) async throws -> CancelReport
    /// A reconciliation pass over these accounts now.
    func reconcile(accounts: Set<AccountID>) async throws -> DriftReport
    func health() async -> Health
}

/// Limits and addresses (config `[webhook]`).
public struct WebhookSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Larger bodies are refused with 413 before they are read whole.
    public var maxBodyBytes = 64 * 1024
    /// A `timestamp` older than this is refused (422).
    public var maxLagMs: Millis = 60_000
    /// A duplicate delivery within this window gets the first result again.
    public var replayWindowMs: Millis = 60_000
    /// Requests per second per source IP (token bucket), and the burst allowed.
    public var ratePerSecond = 10.0
    public var burst = 20
    /// `/healthz` answers 503 when the last pass is older than this (nil: never).
    public var maxPassAgeMs: Millis?

    public init() {}
}

/// The webhook, health and metrics endpoints.
public struct WebhookServer: Sendable {
    let backend: any WebhookBackend
    let settings: WebhookSettings
    let registry: PrometheusCollectorRegistry
    let now: @Sendable () -> Millis
    let requests: @Sendable (String) -> Metrics.Counter
    let latency: Metrics.Timer
    let replays = ReplayCache()
    let limiter: RateLimiter
    let logger: Logger

    /// `registry` is what `/metrics` prints; the server's own metrics go to `factory` (usually a
    /// `PrometheusMetricsFactory` over the same registry).
    public init(
        backend: any WebhookBackend,
        settings: WebhookSettings,
        registry: PrometheusCollectorRegistry,
        factory: any MetricsFactory,
        logger: Logger = Logger(label: "ordersync.webhook"),
        now: @escaping @Sendable () -> Millis
    ) {
        self.backend = backend
        self.settings = settings
        self.registry = registry
        self.now = now
        self.logger = logger
        requests = { outcome in Metrics.Counter(label: "ordersync_webhook_requests_total", dimensions: [("outcome", outcome)], factory: factory) }
        latency = Metrics.Timer(label: "ordersync_webhook_request_duration_seconds", dimensions: [], factory: factory)
        limiter = RateLimiter(perSecond: settings.ratePerSecond, burst: settings.burst)
    }

    /// The Hummingbird application; `onRunning` gets the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        var quiet = logger
        quiet.logLevel = .warning
        return Application(
            router: router(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: quiet
        )
    }

    /// The three endpoints on Hummingbird's router, behind `Edge` (errors as documented JSON,
    /// request metrics).
    public func router() -> Router<WebhookContext> {
        let router = Router(context: WebhookContext.self)
        router.add(middleware: Edge(server: self))
        router.post("/api/webhook") { request, context in
            let (status, body, replayed) = try await webhook(request, context: context)
            var headers: HTTPFields = [.contentType: "application/json"]
            if replayed { headers[Self.replayHeader] = "true" }
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/healthz") { _, _ in await health() }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return router
    }

    static let replayHeader = HTTPField.Name("Idempotent-Replay")!
    static let paths: [String: HTTPRequest.Method] = ["/api/webhook": .post, "/healthz": .get, "/metrics": .get]

    /// Every request: its metrics, and every failure as `{"error": {"code", "message"}}` — an
    /// unknown path 404, a known path with the wrong method 405 with `Allow` (the router answers
    /// both as not found), a store or runtime failure 500 with the detail only in the log.
    struct Edge: RouterMiddleware {
        typealias Context = WebhookContext
        let server: WebhookServer

        func handle(_ request: Request, context: WebhookContext, next: (Request, WebhookContext) async throws -> Response) async throws -> Response {
            let start = ContinuousClock.now
            let path = request.uri.path
            let response: Response
            let outcome: String
            do {
                response = try await next(request, context)
                switch path {
                case "/healthz": outcome = "healthz"
                case "/metrics": outcome = "metrics"
                default: outcome = response.headers[WebhookServer.replayHeader] == nil ? "ok" : "replayed"
                }
            } catch {
                let failure: WebhookError
                switch error {
                case let e as WebhookError: failure = e
                case let e as HTTPError where e.status == .notFound:
                    if let method = WebhookServer.paths[path] {
                        failure = WebhookError(.methodNotAllowed, "\(path) takes \(method.rawValue)")
                    } else {
                        failure = WebhookError(.notFound, "no such endpoint: POST /api/webhook, GET /healthz, GET /metrics")
                    }
                default:
                    // Store or runtime failure: the detail goes to the log (it names no secret), not to the caller.
                    server.logger.error("webhook failed: \(String(describing: error))")
                    failure = WebhookError(.internalError, "the request could not be completed; nothing more was attempted")
                }
                response = try failure.response(from: request, context: context)
                outcome = failure.code.rawValue
            }
            server.requests(outcome).increment()
            server.latency.record(duration: ContinuousClock.now - start)
            return response
        }
    }

    func health() async -> Response {
        let h = await backend.health()
        let time = now()
        let age = h.lastPassAt.map { time - $0 }
        let stale = settings.maxPassAgeMs.flatMap { limit in age.map { $0 > limit } } ?? false
        struct Body: Encodable {
            var status: String
            var last_pass_at: String?
            var last_pass_age_ms: Int64?
            var last_pass_errors: Int
        }
        let body = Body(
            status: stale ? "stale" : "ok",
            last_pass_at: h.lastPassAt.map(UTC.iso8601),
            last_pass_age_ms: age,
            last_pass_errors: h.lastPassErrors
        )
        return Response(
            status: stale ? .serviceUnavailable : .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: Self.encode(body)))
        )
    }

    /// The webhook proper: limits, payload, auth, duplicates, then the action.
    func webhook(_ request: Request, context: WebhookContext) async throws -> (Int, [UInt8], Bool) {
        let ip = context.remoteAddress?.ipAddress ?? "unknown"
        guard await limiter.allow(ip, now: ContinuousClock.now) else {
            throw WebhookError(.rateLimited, "more than \(settings.burst) requests in a burst from this address; retry after a second")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > settings.maxBodyBytes {
            throw WebhookError(.payloadTooLarge, "the body is larger than \(settings.maxBodyBytes) bytes")
        }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type == "application/json" || type.hasPrefix("application/json;") else {
            throw WebhookError(.unsupportedMediaType, "send the payload as Content-Type: application/json")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: settings.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw WebhookError(.payloadTooLarge, "the body is larger than \(settings.maxBodyBytes) bytes")
        }
        let payload = try WebhookPayload.parse(Array(buffer.readableBytesView), now: now(), maxLag: settings.maxLagMs)
        guard let token = payload.token else { throw WebhookError(.missingToken, "token (or user_token) is required") }

        // Auth: every candidate token is compared, in constant time, whether or not the group exists.
        let access = try await backend.strategyAccess(groupName: payload.groupName)
        // SHA-256 digests of equal length, compared by swift-crypto's digest `==` (constant time).
        let presented = SHA256.hash(data: Array(token.reveal().utf8))
        var matched: UserID?
        let candidates = access?.tokens.sorted { $0.key < $1.key } ?? [(UserID(0), Secret("\u{0}no-strategy"))]
        for (user, candidate) in candidates where presented == SHA256.hash(data: Array(candidate.reveal().utf8)) {
            matched = user
        }
        guard let access, let user = matched, access.isActive else { throw WebhookError.forbidden }
        var links = access.scope(for: user)
        guard !links.isEmpty else { throw WebhookError.forbidden }
        if let market = payload.market { links = links.filter { $0.market == market } }
        if let exchange = payload.exchange { links = links.filter { $0.exchange.uppercased() == exchange } }
        let scope = links

        let key =
            (payload.idempotencyKey.map { "key\u{1F}\(payload.groupName)\u{1F}\($0)" } ?? "payload\u{1F}\(payload.fingerprint)")
            + "\u{1F}" + presented.map { String($0, radix: 16) }.joined()
        let (reply, replayed) = await replays.reply(for: key, now: now(), window: settings.replayWindowMs) {
            do {
                switch payload.action {
                case .cancelAll:
                    let target = CancelTarget(access: access, links: scope, symbol: payload.symbol, side: payload.side, market: payload.market)
                    let report = try await backend.cancel(target, requestID: Self.requestID())
                    return .success(Self.encode(["action": "CANCEL_ALL_ORDER"], report: report, key: "result"))
                case .reconcile:
                    let report = try await backend.reconcile(accounts: Set(scope.map(\.account)))
                    return .success(Self.encode(["action": "RECONCILE"], report: report, key: "report"))
                }
            } catch {
                return .failure(String(describing: error))
            }
        }
        switch reply {
        case .success(let body): return (200, body, replayed)
        case .failure(let message):
            logger.error("webhook action failed: \(message)")
            throw WebhookError(.internalError, "the request could not be completed; see the daemon's log")
        }
    }

    static func requestID() -> String {
        var rng = SystemRandomNumberGenerator()
        return "wh-" + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    /// `{"action": …, key: report}`.
    static func encode(_ head: [String: String], report: some Encodable, key: String) -> [UInt8] {
        encode(Wrapped(head: head, key: key, report: report))
    }
}

/// A JSON object of string fields plus one encodable value under `key`.
struct Wrapped<R: Encodable>: Encodable {
    var head: [String: String]
    var key: String
    var report: R
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        for (k, v) in head { try c.encode(v, forKey: AnyCodingKey(k)) }
        try c.encode(report, forKey: AnyCodingKey(key))
    }
}

/// First results of recent requests, so a duplicate delivery returns them instead of acting twice.
actor ReplayCache {
    enum Reply: Sendable {
        case success([UInt8])
        case failure(String)
    }
    private var entries: [String: (task: Task<Reply, Never>, at: Millis)] = [:]

    /// The reply for `key`: the first one within `window` (waiting for it if it is still being
    /// made), or a new one from `make`.
    func reply(for key: String, now: Millis, window: Millis, make: @escaping @Sendable () async -> Reply) async -> (Reply, Bool) {
        entries = entries.filter { now - $0.value.at < window }
        if let entry = entries[key] { return (await entry.task.value, true) }
        let task = Task { await make() }
        entries[key] = (task, now)
        let reply = await task.value
        if case .failure = reply { entries[key] = nil }  // a failure is not a result to replay
        return (reply, false)
    }
}

/// A token bucket per source address.
actor RateLimiter {
    let perSecond: Double
    let burst: Double
    private var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]

    init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = Double(max(1, burst))
    }

    func allow(_ source: String, now: ContinuousClock.Instant) -> Bool {
        if buckets.count > 10_000 { buckets = buckets.filter { now - $0.value.at < .seconds(60) } }
        var bucket = buckets[source] ?? (burst, now)
        let elapsed = now - bucket.at
        bucket.tokens = min(burst, bucket.tokens + perSecond * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        bucket.at = now
        guard bucket.tokens >= 1 else {
            buckets[source] = bucket
            return false
        }
        bucket.tokens -= 1
        buckets[source] = bucket
        return true
    }
}

/// The documented error body and status (`docs/openapi.yaml`): `{"error": {"code", "message"}}`,
/// `Allow` on 405 and `Retry-After` on 429.
extension WebhookError: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if code == .rateLimited { headers[.retryAfter] = "1" }
        if code == .methodNotAllowed, let method = WebhookServer.paths[request.uri.path] { headers[.allow] = method.rawValue }
        let body = WebhookServer.encode(["error": ["code": code.rawValue, "message": message]])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
