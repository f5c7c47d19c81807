import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SimulatorSupport
import SyncCore

/// Upbit's REST API (EXCHANGES.md §2) over an `UpbitExchange`, on Hummingbird's router: JWT
/// authentication as the real exchange checks it (signature, `query_hash` of the query string as
/// received, a fresh nonce), `Remaining-Req` on every answer, 429 past a group's per-second limit,
/// and the endpoints a client calls to reconcile and cancel by id. The account-wide
/// `DELETE /v1/orders/open` works and is counted (`wideCancels`).
public struct UpbitSimulator: Sendable {
    public let exchange: UpbitExchange
    public let dialect: Dialect

    /// Upbit's, or Bithumb API 2.0's v1 (BithumbSimulator adds its v2 endpoints).
    public enum Dialect: Sendable, Hashable {
        case upbit, bithumb
        /// The client's own order id parameter and field.
        package var clientIDKey: String { self == .upbit ? "identifier" : "client_order_id" }
        /// Bithumb requires the `timestamp` claim.
        var requiresTimestamp: Bool { self == .bithumb }
        /// Upbit sends `Remaining-Req` and limits per account; Bithumb limits per address.
        var limitsPerAccount: Bool { self == .upbit }
    }

    public init(exchange: UpbitExchange, dialect: Dialect = .upbit) {
        self.exchange = exchange
        self.dialect = dialect
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let exchange = exchange
        let dialect = dialect
        router.get("/v1/market/all") { request, _ in
            try await Self.serve(exchange, dialect, request, "GET /v1/market/all", group: "market", signed: false) { _, _ in
                .array(UpbitExchange.markets.map { m in .object([("market", .string(m)), ("english_name", .string(m))]) })
            }
        }
        // The older list of every state (clients such as pyupbit still call it; Bithumb's list too).
        router.get("/v1/orders") { request, _ in
            try await Self.serve(exchange, dialect, request, "GET /v1/orders", group: "default") { key, params in
                // By ids: every state unless one is named; otherwise `wait` by default.
                let byIDs = !params.all("uuids[]").isEmpty
                let named = params.all("states[]").isEmpty ? params.first("state").map { [$0] } ?? [] : params.all("states[]")
                let states = named.isEmpty ? (byIDs ? ["wait", "watch", "done", "cancel"] : ["wait"]) : named
                guard states.allSatisfy({ ["wait", "watch", "done", "cancel"].contains($0) }) else {
                    throw UpbitAPIError.validation("state is wait, watch, done or cancel")
                }
                let page = Int(params.first("page") ?? "1") ?? 0
                let limit = Int(params.first("limit") ?? "100") ?? 0
                guard page >= 1, (1...100).contains(limit) else { throw UpbitAPIError.validation("page ≥ 1, limit 1 to 100") }
                let orderBy = params.first("order_by") ?? "desc"
                var all = await exchange.open(key, market: params.first("market"), states: Set(states), ascending: orderBy == "asc")
                let uuids = Set(params.all("uuids[]"))
                if !uuids.isEmpty { all = all.filter { uuids.contains($0.uuid) } }
                return .array(all.dropFirst((page - 1) * limit).prefix(limit).map { Self.json($0, dialect) })
            }
        }
        router.get("/v1/order") { request, _ in
            try await Self.serve(exchange, dialect, request, "GET /v1/order", group: "default") { key, params in
                guard let order = await exchange.find(key, uuid: params.first("uuid"), identifier: params.first(dialect.clientIDKey)) else {
                    throw UpbitAPIError.notFound
                }
                guard case .object(var fields) = Self.json(order, dialect) else { return Self.json(order, dialect) }
                fields.append(("trades", .array([])))
                return .object(fields)
            }
        }
        router.get("/v1/accounts") { request, _ in
            try await Self.serve(exchange, dialect, request, "GET /v1/accounts", group: "default") { _, _ in
                .array([
                    .object([
                        ("currency", .string("KRW")), ("balance", .string("1000000000.0")), ("locked", .string("0")),
                        ("avg_buy_price", .string("0")), ("avg_buy_price_modified", .bool(false)), ("unit_currency", .string("KRW")),
                    ])
                ])
            }
        }
        router.get("/v1/orders/chance") { request, _ in
            try await Self.serve(exchange, dialect, request, "GET /v1/orders/chance", group: "default") { _, params in
                guard let market = params.first("market"), UpbitExchange.markets.contains(market) else {
                    throw UpbitAPIError(404, "market_does_not_exist", "market does not exist")
                }
                let parts = market.split(separator: "-").map(String.init)
                func account(_ currency: String) -> JSON {
                    .object([
                        ("currency", .string(currency)), ("balance", .string(currency == "KRW" ? "1000000000.0" : "0")),
                        ("locked", .string("0")), ("avg_buy_price", .string("0")), ("avg_buy_price_modified", .bool(false)),
                        ("unit_currency", .string(parts[0])),
                    ])
                }
                return .object([
                    ("bid_fee", .string("0.0005")), ("ask_fee", .string("0.0005")), ("maker_bid_fee", .string("0.0005")),
                    ("maker_ask_fee", .string("0.0005")),
                    (
                        "market",
                        .object([
                            ("id", .string(market)), ("name", .string(parts[1] + "/" + parts[0])),
                            ("order_types", .array([])), ("order_sides", .array([.string("ask"), .string("bid")])),
                            ("bid_types", .array([.string("limit"), .string("price")])),
                            ("ask_types", .array([.string("limit"), .string("market")])),
                            ("bid", .object([("currency", .string(parts[0])), ("min_total", .string("5000"))])),
                            ("ask", .object([("currency", .string(parts[1])), ("min_total", .string("5000"))])),
                            ("max_total", .string("1000000000.0")), ("state", .string("active")),
                        ])
                    ),
                    ("bid_account", account(parts[0])), ("ask_account", account(parts[1])),
                ])
            }
        }
        UpbitControl.add(to: router, exchange: exchange, dialect: dialect)
        router.delete("/v1/order") { request, _ in
            try await Self.serve(exchange, dialect, request, "DELETE /v1/order", group: "default") { key, params in
                // The answer shows the order as it was when the cancel was accepted (`wait`).
                guard let order = await exchange.cancel(key, uuid: params.first("uuid"), identifier: params.first(dialect.clientIDKey)) else {
                    throw UpbitAPIError.notFound
                }
                return Self.json(order, dialect)
            }
        }
        router.post("/v1/orders") { request, _ in
            try await Self.serve(exchange, dialect, request, "POST /v1/orders", group: "order") { key, params in
                guard let market = params.first("market"), let side = params.first("side"), let type = params.first("ord_type") else {
                    throw UpbitAPIError.validation("market, side and ord_type are required")
                }
                let order = try await exchange.place(
                    accessKey: key,
                    market: market,
                    side: side,
                    ordType: type,
                    price: params.first("price"),
                    volume: params.first("volume"),
                    identifier: params.first(dialect.clientIDKey)
                )
                return Self.json(order, dialect)
            }
        }
        if dialect == .upbit {
            addUpbitRoutes(router)
        }
        return router
    }

    /// The endpoints only Upbit has (Bithumb's own are BithumbSimulator's).
    func addUpbitRoutes(_ router: Router<BasicRequestContext>) {
        let exchange = exchange
        let dialect = dialect
        router.get("/v1/orders/open") { request, _ in
            try await Self.serve(exchange, dialect, request, "GET /v1/orders/open", group: "default") { key, params in
                let states = params.all("states[]").isEmpty ? [params.first("state") ?? "wait"] : params.all("states[]")
                guard params.first("state") == nil || params.all("states[]").isEmpty else {
                    throw UpbitAPIError.validation("state and states[] cannot be given together")
                }
                guard states.allSatisfy({ $0 == "wait" || $0 == "watch" }) else { throw UpbitAPIError.validation("open orders are wait or watch") }
                let page = Int(params.first("page") ?? "1") ?? 0
                let limit = Int(params.first("limit") ?? "100") ?? 0
                guard page >= 1, (1...100).contains(limit) else { throw UpbitAPIError.validation("page ≥ 1, limit 1 to 100") }
                let orderBy = params.first("order_by") ?? "desc"
                guard orderBy == "asc" || orderBy == "desc" else { throw UpbitAPIError.validation("order_by is asc or desc") }
                let all = await exchange.open(key, market: params.first("market"), states: Set(states), ascending: orderBy == "asc")
                let start = (page - 1) * limit
                return .array(all.dropFirst(start).prefix(limit).map { Self.json($0, dialect) })
            }
        }
        router.get("/v1/orders/uuids") { request, _ in
            try await Self.serve(exchange, dialect, request, "GET /v1/orders/uuids", group: "default") { key, params in
                var found: [UpbitExchange.Order] = []
                for ref in try params.named(ids: "uuids[]", clientIDs: "identifiers[]", limit: 100, names: "uuids[] or identifiers[]") {
                    if let order = await exchange.find(key, uuid: ref.uuid, identifier: ref.identifier) { found.append(order) }
                }
                if let market = params.first("market") { found = found.filter { $0.market == market } }
                let descending = (params.first("order_by") ?? "desc") == "desc"
                found.sort { descending ? ($0.createdAt, $0.uuid) > ($1.createdAt, $1.uuid) : ($0.createdAt, $0.uuid) < ($1.createdAt, $1.uuid) }
                return .array(found.map { Self.json($0, dialect) })
            }
        }
        router.delete("/v1/orders/uuids") { request, _ in
            try await Self.serve(exchange, dialect, request, "DELETE /v1/orders/uuids", group: "default") { key, params in
                var success: [JSON] = []
                var failed: [JSON] = []
                for ref in try params.named(ids: "uuids[]", clientIDs: "identifiers[]", limit: 20, names: "uuids[] or identifiers[]") {
                    let (byUUID, byIdentifier) = ref
                    if let order = await exchange.cancel(key, uuid: byUUID, identifier: byIdentifier) {
                        success.append(
                            .object([
                                ("uuid", .string(order.uuid)), ("market", .string(order.market)),
                                ("identifier", order.identifier.map(JSON.string) ?? .null),
                            ])
                        )
                    } else {
                        failed.append(.object([("uuid", .string(byUUID ?? "")), ("identifier", byIdentifier.map(JSON.string) ?? .null)]))
                    }
                }
                return .object([
                    ("success", .object([("count", .int(Int64(success.count))), ("orders", .array(success))])),
                    ("failed", .object([("count", .int(Int64(failed.count))), ("orders", .array(failed))])),
                ])
            }
        }
        router.delete("/v1/orders/open") { request, _ in
            try await Self.serve(exchange, dialect, request, "DELETE /v1/orders/open", group: "order-cancel-all") { key, _ in
                let cancelled = await exchange.cancelAll(key)
                return .object([
                    (
                        "success",
                        .object([
                            ("count", .int(Int64(cancelled.count))), ("orders", .array(cancelled.map { .object([("uuid", .string($0.uuid))]) })),
                        ])
                    ),
                    ("failed", .object([("count", .int(0)), ("orders", .array([]))])),
                ])
            }
        }
    }

    /// The Hummingbird application on `host:port` (0: a free port, given to `onRunning`).
    public func application(
        host: String = "127.0.0.1",
        port: Int = 0,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    )
        -> some ApplicationProtocol
    {
        Self.application(router(), label: "upbit-simulator", host: host, port: port, onRunning: onRunning)
    }

    /// A simulator's Hummingbird application for `router` on `host:port`, quiet below warnings.
    package static func application(
        _ router: Router<BasicRequestContext>,
        label: String,
        host: String,
        port: Int,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Runs `app` on loopback for the duration of `body`, which gets its base URL (tests, benchmarks).
    package static func running(_ app: some ApplicationProtocol, _ port: AsyncStream<Int>, _ body: (String) async throws -> Void) async throws {
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "simulator")))
        let run = Task { try await group.run() }
        defer { run.cancel() }
        guard let bound = await port.first(where: { _ in true }) else { throw UpbitAPIError(500, "not_started", "the simulator did not start") }
        try await body("http://127.0.0.1:\(bound)")
        await group.triggerGracefulShutdown()
        _ = try? await run.value
    }

    /// This simulator on a free loopback port for the duration of `body`, which gets its base URL.
    public func withRunning(_ body: (String) async throws -> Void) async throws {
        let port = AsyncStream<Int>.makeStream()
        try await Self.running(application { port.continuation.yield($0) }, port.stream, body)
    }

    /// One request: parameters, authentication, rate limit, then `body` — every answer JSON with
    /// `Remaining-Req`.
    package static func serve(
        _ exchange: UpbitExchange,
        _ dialect: Dialect,
        _ request: Request,
        _ endpoint: String,
        group: String,
        signed: Bool = true,
        _ body: @Sendable (String, Params) async throws -> JSON
    ) async throws -> Response {
        var request = request
        // The calls left this second once the request is admitted; before that (a request refused
        // by authentication) no Remaining-Req is sent.
        var remaining: Int?
        do {
            let params: Params
            let hashed: String
            if request.method == .post {
                let bytes = Array(buffer: try await request.collectBody(upTo: 64 * 1024))
                guard let pairs = FlatObject.pairs(bytes) else {
                    throw UpbitAPIError.validation("the body must be a JSON object of strings and numbers")
                }
                params = Params(pairs)
                hashed = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
            } else if let raw = request.uri.query, !raw.isEmpty {
                params = Params(query: raw)
                hashed = raw.removingPercentEncoding ?? raw
            } else {
                // Clients also send a GET's or DELETE's parameters as a body (pyupbit: a form for GET,
                // JSON for DELETE), which the exchange accepts and hashes as `k=v&…`.
                let bytes = Array(buffer: try await request.collectBody(upTo: 64 * 1024))
                if bytes.first == UInt8(ascii: "{") {
                    guard let pairs = FlatObject.pairs(bytes) else {
                        throw UpbitAPIError.validation("the body must be a JSON object of strings and numbers")
                    }
                    params = Params(pairs)
                    hashed = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
                } else {
                    let form = String(decoding: bytes, as: UTF8.self)
                    params = Params(query: form)
                    hashed = params.pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
                }
            }
            var key = ""
            if signed { key = try await authenticate(exchange, request, hashed: hashed, requireTimestamp: dialect.requiresTimestamp) }
            guard let left = await exchange.admit(endpoint, group: group, accessKey: dialect.limitsPerAccount ? key : "") else {
                return respond(
                    429,
                    .object([("error", .object([("name", .string("too_many_requests")), ("message", .string("Too many API requests."))]))]),
                    group,
                    dialect.limitsPerAccount ? 0 : nil
                )
            }
            remaining = dialect.limitsPerAccount ? left : nil
            if signed {
                let latency = await exchange.latencyMs
                if latency > 0 { try await Task.sleep(for: .milliseconds(latency)) }
                if await exchange.isFailing(key) { throw UpbitAPIError(500, "server_error", "Internal server error") }
            }
            return respond(200, try await body(key, params), group, left)
        } catch let error as UpbitAPIError {
            return respond(
                error.status,
                .object([("error", .object([("name", .string(error.name)), ("message", .string(error.message))]))]),
                group,
                remaining
            )
        }
    }

    static func respond(_ status: Int, _ body: JSON, _ group: String, _ remaining: Int?) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let remaining { headers[HTTPField.Name("Remaining-Req")!] = "group=\(group); min=1800; sec=\(remaining)" }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    /// `Authorization: Bearer <JWT>`: HS256 or HS512 under the account's secret, its `access_key`
    /// known, its `nonce` new, and `query_hash` the SHA-512 of the (decoded) query string when there
    /// are parameters.
    static func authenticate(_ exchange: UpbitExchange, _ request: Request, hashed: String, requireTimestamp: Bool) async throws -> String {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw UpbitAPIError.unauthorized("jwt_verification", "Authorization: Bearer <JWT> is required")
        }
        let parts = header.dropFirst("Bearer ".count).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let headerJSON = base64URL(parts[0]), let payloadJSON = base64URL(parts[1]), let signature = base64URL(parts[2]),
            let jose = try? JSONSerialization.jsonObject(with: headerJSON) as? [String: Any], let alg = jose["alg"] as? String,
            let claims = try? JSONSerialization.jsonObject(with: payloadJSON) as? [String: Any]
        else { throw UpbitAPIError.unauthorized("jwt_verification", "the token is not a JWT") }
        guard let accessKey = claims["access_key"] as? String, let secret = await exchange.secret(for: accessKey) else {
            throw UpbitAPIError.unauthorized("invalid_access_key", "unknown access key")
        }
        let input = Data((parts[0] + "." + parts[1]).utf8)
        let key = SymmetricKey(data: Data(secret.utf8))
        let valid =
            switch alg {
            case "HS256": HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: input, using: key)
            case "HS512": HMAC<SHA512>.isValidAuthenticationCode(signature, authenticating: input, using: key)
            default: false
            }
        guard valid else { throw UpbitAPIError.unauthorized("jwt_verification", "the signature does not verify") }
        if !hashed.isEmpty {
            let expected = SHA512.hash(data: Data(hashed.utf8)).map { String(format: "%02x", $0) }.joined()
            guard claims["query_hash"] as? String == expected, (claims["query_hash_alg"] as? String ?? "SHA512") == "SHA512" else {
                throw UpbitAPIError.unauthorized("invalid_query_payload", "query_hash does not match the query")
            }
        }
        if requireTimestamp {
            guard let stamp = claims["timestamp"] as? NSNumber, stamp.int64Value > 0 else {
                throw UpbitAPIError.unauthorized("jwt_verification", "timestamp is required")
            }
        }
        guard let nonce = claims["nonce"] as? String, !nonce.isEmpty else {
            throw UpbitAPIError.unauthorized("jwt_verification", "nonce is required")
        }
        guard await exchange.useNonce(nonce) else { throw UpbitAPIError.unauthorized("nonce_used", "the nonce was used before") }
        return accessKey
    }

    static func base64URL(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.utf8.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }

    package static func json(_ o: UpbitExchange.Order, _ dialect: Dialect) -> JSON {
        var fields: [(String, JSON)] = [
            ("uuid", .string(o.uuid)), ("side", .string(o.side)), ("ord_type", .string(o.ordType)),
        ]
        if let price = o.price { fields.append(("price", .string(price))) }
        fields += [("state", .string(o.state)), ("market", .string(o.market)), ("created_at", .string(UTC.iso8601(o.createdAt)))]
        if let volume = o.volume {
            let left = (Double(volume) ?? 0) - (Double(o.executedVolume) ?? 0)
            let remaining = o.executedVolume == "0" ? volume : (Amount(max(0, left)).map(\.description) ?? volume)
            fields += [("volume", .string(volume)), ("remaining_volume", .string(remaining))]
        }
        fields += [
            ("reserved_fee", .string("0")), ("remaining_fee", .string("0")), ("paid_fee", .string("0")), ("locked", .string("0")),
            ("executed_volume", .string(o.executedVolume)),
            ("executed_funds", .string(((Amount(o.executedVolume) ?? .zero).doubleValue * (Double(o.price ?? "0") ?? 0)).description)),
            ("trades_count", .int(0)),
        ]
        if let identifier = o.identifier { fields.append((dialect.clientIDKey, .string(identifier))) }
        return .object(fields)
    }
}
