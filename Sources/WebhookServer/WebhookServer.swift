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

    /// The user data streams, when `serve` follows them: which accounts are on streams and which
    /// on polling only.
    public var streams: [StreamAccount]?

    public init(lastPassAt: Millis?, lastPassErrors: Int, streams: [StreamAccount]? = nil) {
        self.lastPassAt = lastPassAt
        self.lastPassErrors = lastPassErrors
        self.streams = streams
    }
}

/// One account in `/healthz`'s `streams`: each market's stream state — `healthy`, `catching_up`
/// (connecting, or resyncing after a gap), `gap` (reconnecting), or `none` (the exchange has no
/// stream for it: polling only).
public struct StreamAccount: Sendable, Hashable, Codable {
    public var accountID: AccountID
    public var markets: [Market: String]
    /// Every market on a healthy stream (its scheduled passes come at the streams' interval).
    public var onStreams: Bool

    public init(accountID: AccountID, markets: [Market: String], onStreams: Bool) {
        self.accountID = accountID
        self.markets = markets
        self.onStreams = onStreams
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
                case let e as HTTPError where (400..<500).contains(e.status.code):
                    failure = WebhookError(clientError: e.status.code, e.body ?? e.status.reasonPhrase)
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
}
