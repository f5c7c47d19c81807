import Foundation
import Hummingbird
import HummingbirdTesting
import Metrics
import Prometheus
import SyncCore
import Synchronization
import Testing

@testable import WebhookServer

/// The webhook's router through HummingbirdTesting (no sockets), over a fake backend: every
/// documented error with its status, code and headers; scopes handed to the backend; duplicates
/// replayed; request metrics by outcome.
@Suite struct RouterTests {
    static let now: Millis = 1_800_000_000_000

    /// One public strategy "pub" owned by user 1 (token "owner-token") with links on accounts
    /// 10 (user 1) and 20 (user 2, token "sub-token"); records what it is asked to do.
    final class Backend: WebhookBackend {
        let cancels = Mutex<[CancelTarget]>([])
        let reconciles = Mutex<[Set<AccountID>]>([])

        static let access = StrategyAccess(
            strategy: StrategyID(1),
            groupName: "pub",
            owner: UserID(1),
            isActive: true,
            links: [
                .init(
                    link: StrategyLinkID(1),
                    account: AccountID(10),
                    accountOwner: UserID(1),
                    market: .futures,
                    isActive: true,
                    exchange: "BINANCE"
                ),
                .init(
                    link: StrategyLinkID(2),
                    account: AccountID(20),
                    accountOwner: UserID(2),
                    market: .futures,
                    isActive: true,
                    exchange: "BINANCE"
                ),
            ],
            tokens: [UserID(1): Secret("owner-token"), UserID(2): Secret("sub-token")]
        )

        func strategyAccess(groupName: String) async throws -> StrategyAccess? { groupName == "pub" ? Self.access : nil }
        func cancel(_ target: CancelTarget, requestID: String) async throws -> CancelReport {
            cancels.withLock { $0.append(target) }
            return CancelReport(requestID: requestID, strategy: target.strategy, executed: true, accounts: [], durationMs: 1)
        }
        func reconcile(accounts: Set<AccountID>) async throws -> DriftReport {
            reconciles.withLock { $0.append(accounts) }
            return DriftReport(runID: 1, trigger: "webhook", startedAt: RouterTests.now, finishedAt: RouterTests.now, sections: [])
        }
        func health() async -> Health { Health(lastPassAt: RouterTests.now - 1000, lastPassErrors: 0) }
    }

    static func app(
        _ backend: Backend,
        configure: (inout WebhookSettings) -> Void = { _ in }
    ) -> (some ApplicationProtocol, PrometheusCollectorRegistry) {
        var settings = WebhookSettings()
        configure(&settings)
        let registry = PrometheusCollectorRegistry()
        let server = WebhookServer(
            backend: backend,
            settings: settings,
            registry: registry,
            factory: PrometheusMetricsFactory(registry: registry),
            now: { RouterTests.now }
        )
        return (Application(router: server.router()), registry)
    }

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
    static let json: HTTPFields = [.contentType: "application/json"]

    static func error(_ response: TestResponse) throws -> (code: String, message: String) {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        return (try #require(error["code"] as? String), try #require(error["message"] as? String))
    }

    /// A client error the HTTP layer raises is answered as a documented client error, never as a 500.
    @Test func clientErrorsOfTheHTTPLayerKeepTheirClass() {
        for status in 400..<500 {
            let error = WebhookError(clientError: status, "x")
            #expect((400..<500).contains(error.statusCode) && error.code != .internalError, "\(status) → \(error.code)")
            if [401, 403, 404, 405, 413, 415, 429].contains(status) { #expect(error.statusCode == status) }
        }
    }

    @Test func everyErrorIsTheDocumentedJSONWithItsStatusAndHeaders() async throws {
        let backend = Backend()
        let (app, _) = Self.app(backend) { $0.maxBodyBytes = 1024 }
        try await app.test(.router) { client in
            let missing = try await client.execute(uri: "/nope", method: .get)
            #expect(try missing.status == .notFound && Self.error(missing).code == "not_found")
            let wrong = try await client.execute(uri: "/api/webhook", method: .get)
            #expect(try wrong.status == .methodNotAllowed && wrong.headers[.allow] == "POST" && Self.error(wrong).code == "method_not_allowed")
            try await client.execute(uri: "/healthz", method: .post) { r in
                #expect(r.status == .methodNotAllowed && r.headers[.allow] == "GET")
            }
            let cases: [(String, HTTPFields, String, HTTPResponse.Status, String)] = [
                (
                    "text/plain", [.contentType: "text/plain"], #"{"group_name": "pub", "order_type": "CANCEL_ALL_ORDER", "token": "owner-token"}"#,
                    .unsupportedMediaType, "unsupported_media_type"
                ),
                (
                    "too large", Self.json,
                    #"{"group_name": "pub", "order_type": "CANCEL_ALL_ORDER", "token": "owner-token", "x": ""# + String(repeating: "y", count: 2000)
                        + #""}"#, .contentTooLarge, "payload_too_large"
                ),
                ("not JSON", Self.json, "{", .badRequest, "invalid_json"),
                ("no token", Self.json, #"{"group_name": "pub", "order_type": "CANCEL_ALL_ORDER"}"#, .unauthorized, "missing_token"),
                ("wrong token", Self.json, #"{"group_name": "pub", "order_type": "CANCEL_ALL_ORDER", "token": "nope"}"#, .forbidden, "forbidden"),
                (
                    "unknown group", Self.json, #"{"group_name": "other", "order_type": "CANCEL_ALL_ORDER", "token": "owner-token"}"#, .forbidden,
                    "forbidden"
                ),
                (
                    "an order", Self.json, #"{"group_name": "pub", "order_type": "LIMIT", "token": "owner-token"}"#, .unprocessableContent,
                    "unsupported_order_type"
                ),
            ]
            var forbidden: [String] = []
            for (name, headers, text, status, code) in cases {
                let r = try await client.execute(uri: "/api/webhook", method: .post, headers: headers, body: Self.body(text))
                #expect(try r.status == status && Self.error(r).code == code, "\(name): \(r.status)")
                if code == "forbidden" { forbidden.append(String(buffer: r.body)) }
            }
            // A wrong token and an unknown group are told the same thing.
            #expect(forbidden.count == 2 && forbidden[0] == forbidden[1])
        }
        #expect(backend.cancels.withLock { $0 }.isEmpty, "no bad request reached the backend")
    }

    @Test func aTokensScopeReachesTheBackendAndADuplicateIsReplayed() async throws {
        let backend = Backend()
        let (app, registry) = Self.app(backend)
        try await app.test(.router) { client in
            let sub = #"{"group_name": "pub", "order_type": "CANCEL_ALL_ORDER", "token": "sub-token", "symbol": "BTC/USDT"}"#
            for replay in [false, true] {
                try await client.execute(uri: "/api/webhook", method: .post, headers: Self.json, body: Self.body(sub)) { r in
                    #expect(r.status == .ok && (r.headers[WebhookServer.replayHeader] == "true") == replay)
                }
            }
            try await client.execute(
                uri: "/api/webhook",
                method: .post,
                headers: Self.json,
                body: Self.body(#"{"group_name": "pub", "order_type": "RECONCILE", "token": "owner-token"}"#)
            ) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/healthz", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/nope", method: .get) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                for outcome in ["ok", "replayed", "healthz", "not_found"] {
                    #expect(text.contains(#"ordersync_webhook_requests_total{outcome="\#(outcome)"}"#), "\(outcome) counted")
                }
            }
        }
        // The subscriber's cancel reached only its own account's link, with its filter; once.
        let cancels = backend.cancels.withLock { $0 }
        #expect(cancels.count == 1 && cancels.first?.scope.links == [StrategyLinkID(2)] && cancels.first?.scope.symbol.map(SymbolKey.of) == "BTCUSDT")
        #expect(backend.reconciles.withLock { $0 } == [[AccountID(10), AccountID(20)]])
        _ = registry
    }
}
