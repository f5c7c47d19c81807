import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import SimulatorSupport
import SyncCore

/// The request context: Hummingbird's core storage plus the client's address (weight is per IP).
public struct SimulatorContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection, so a "dropped connection" fault can really close it.
    let channel: any Channel
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
    /// Bodies up to 64 KiB; larger ones are refused with 413 before they are read.
    public var maxUploadSize: Int { 64 * 1024 }
}

/// An endpoint of the REST API.
struct Endpoint: Sendable {
    var product: Product
    var signed: Bool
    /// Request weight given the parameters (with or without `symbol`, …).
    var weight: @Sendable (Params) -> Int
    var handler: @Sendable (Exchange, Call) async throws(APIError) -> JSON
    /// Orders placed count toward `X-MBX-ORDER-COUNT-10S`.
    var placesOrder = false
}

/// One authenticated call: its parameters and the API key it was signed with.
struct Call: Sendable {
    var params: Params
    var apiKey: String
}

/// Serves the REST API and the `/_sim/` control API.
public struct SimulatorResponder: HTTPResponder {
    public typealias Context = SimulatorContext
    let exchange: Exchange
    let routes: [String: Endpoint]

    init(exchange: Exchange) {
        self.exchange = exchange
        self.routes = Routes.table
    }

    struct DropConnection: Error {}

    public func respond(to request: Request, context: SimulatorContext) async throws -> Response {
        var request = request
        let path = request.uri.path
        if path.hasPrefix("/_sim/") { return await Control.respond(to: &request, context: context, exchange: exchange) }
        let key = "\(request.method.rawValue) \(path)"
        if path == "/fapi/v1/listenKey" {
            await exchange.countRequest(key)
            return await listenKey(request, context: context)
        }
        guard let endpoint = routes[key] else {
            return routes.keys.contains(where: { $0.hasSuffix(" \(path)") })
                ? Self.json(.init(code: 405), .object([]), [:]) : Response(status: .notFound)
        }
        await exchange.countRequest(key)
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: context.maxUploadSize)
        } catch {
            return Self.json(.contentTooLarge, Wire.error(.payloadTooLarge), [:])
        }
        let rawBody = String(buffer: body)
        let rawQuery = request.uri.query ?? ""
        var headers: [String: String] = [:]
        let faults = await exchange.configuration.faults
        let limits = await exchange.configuration.limits
        do {
            let params = try Params(query: rawQuery, body: rawBody)
            let ip = context.remoteAddress?.ipAddress ?? "local"
            let used = try await exchange.charge(ip: ip, product: endpoint.product, weight: endpoint.weight(params))
            headers["X-MBX-USED-WEIGHT-\(limits.intervalLabel)"] = String(used)
            if endpoint.product == .spot { headers["X-MBX-USED-WEIGHT"] = String(used) }

            var apiKey = ""
            if endpoint.signed {
                // Faults happen to signed (order and account) requests only.
                if faults.latencyMs > 0 || faults.latencyJitterMs > 0 {
                    let jitter = faults.latencyJitterMs > 0 ? Int(await exchange.draw() * Double(faults.latencyJitterMs)) : 0
                    try? await Task.sleep(for: .milliseconds(faults.latencyMs + jitter))
                }
                if faults.anyFailure {
                    if await exchange.draw() < faults.dropConnection { throw DropConnection() }
                    if await exchange.draw() < faults.serverError { throw APIError.unknown }
                    if await exchange.draw() < faults.rateLimitStorm {
                        throw APIError.tooManyRequests(
                            limit: endpoint.product == .spot ? limits.spotWeight : limits.futuresWeight,
                            interval: limits.intervalText,
                            retryAfter: 1
                        )
                    }
                }
                apiKey = try await authenticate(request: request, rawQuery: rawQuery, rawBody: rawBody, params: params)
                if !faults.failingAccounts.isEmpty, let account = await exchange.accountID(forKey: apiKey), faults.failingAccounts.contains(account) {
                    throw APIError.unknown
                }
                if let account = await exchange.accountID(forKey: apiKey) {
                    if faults.slowMs > 0, faults.slowAccounts.contains(account) { try? await Task.sleep(for: .milliseconds(faults.slowMs)) }
                    await exchange.waitWhileHeld(account)
                }
            }
            await exchange.noteNamedOrders(params)
            let result = try await endpoint.handler(exchange, Call(params: params, apiKey: apiKey))
            if endpoint.placesOrder { headers["X-MBX-ORDER-COUNT-10S"] = String(await exchange.countOrder(key: apiKey)) }
            if endpoint.signed && faults.anyFailure {
                // Applied, but the client is told otherwise: its outcome is unknown to it.
                if await exchange.draw() < faults.unknownAfterApply { throw APIError.unknownFutures }
                if await exchange.draw() < faults.timeoutAfterApply { throw APIError.timeout }
                if await exchange.draw() < faults.truncateBody {
                    let text = result.text
                    return Self.raw(.ok, String(text.prefix(text.count / 2)), headers)
                }
            }
            return Self.json(.ok, result, headers)
        } catch let error as APIError {
            return Self.failure(error, headers)
        } catch is DropConnection {
            // The connection is closed before any byte of a response.
            try? await context.channel.close()
            return Response(status: .ok)
        }
    }

    /// `POST` (create or extend), `PUT` (keepalive, -1125 when the account has no live key),
    /// `DELETE` (close): weight 1, the API key alone (USER_STREAM security, no signature).
    func listenKey(_ request: Request, context: SimulatorContext) async -> Response {
        do {
            let used = try await exchange.charge(ip: context.remoteAddress?.ipAddress ?? "local", product: .futures, weight: 1)
            let headers = ["X-MBX-USED-WEIGHT-\(await exchange.configuration.limits.intervalLabel)": String(used)]
            guard let apiKey = request.headers[.init("X-MBX-APIKEY")!], !apiKey.isEmpty else { throw APIError.badAPIKeyFormat }
            guard let account = await exchange.accountID(forKey: apiKey) else { throw APIError.invalidAPIKey }
            let streams = exchange.streams
            switch request.method {
            case .post: return Self.json(.ok, .object([("listenKey", .string(streams.createListenKey(account: account)))]), headers)
            case .put:
                guard streams.keepAlive(account: account) else { throw APIError.invalidListenKey }
                return Self.json(.ok, .object([]), headers)
            case .delete:
                streams.closeListenKey(account: account)
                return Self.json(.ok, .object([]), headers)
            default: return Self.json(.init(code: 405), .object([]), headers)
            }
        } catch let error as APIError {
            return Self.failure(error)
        } catch {
            return Self.json(.internalServerError, Wire.error(.unknown), [:])
        }
    }

    /// `X-MBX-APIKEY`, mandatory parameters, signature and timestamp, in the real exchange's order.
    func authenticate(request: Request, rawQuery: String, rawBody: String, params: Params) async throws(APIError) -> String {
        guard let apiKey = request.headers[.init("X-MBX-APIKEY")!], !apiKey.isEmpty else { throw APIError.badAPIKeyFormat }
        guard apiKey.utf8.count <= 128, apiKey.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw APIError.badAPIKeyFormat }
        guard let secret = await exchange.secret(forKey: apiKey) else { throw APIError.invalidAPIKey }
        guard let timestampText = params["timestamp"] else { throw APIError.mandatory("timestamp") }
        let (payload, signature) = Signing.split(rawQuery: rawQuery, rawBody: rawBody)
        guard let signature, !signature.isEmpty else { throw APIError.mandatory("signature") }
        guard Signing.verify(signature: signature, secret: secret, payload: payload) else { throw APIError.badSignature }
        // Spot accepts milliseconds or microseconds (16 digits).
        guard var timestamp = Int64(timestampText.split(separator: ".").first ?? "") else { throw APIError.mandatory("timestamp") }
        if timestamp > 10_000_000_000_000 { timestamp /= 1000 }
        var recvWindow: Int64 = 5000
        if let text = params["recvWindow"] {
            guard let value = Double(text), value > 0 else { throw APIError.mandatory("recvWindow") }
            guard value <= 60_000 else { throw APIError.recvWindowTooLarge }
            recvWindow = Int64(value)
        }
        let now = await exchange.now()
        if timestamp >= now + 1000 { throw APIError.timestampAhead }
        if now - timestamp > recvWindow { throw APIError.timestampOutside }
        return apiKey
    }

    /// An error as the exchange answers it: its status and `{code, msg}`, with `Retry-After` for 429 and 418.
    static func failure(_ error: APIError, _ headers: [String: String] = [:]) -> Response {
        var headers = headers
        if let retry = error.retryAfter { headers["Retry-After"] = String(retry) }
        return json(error.status, Wire.error(error), headers)
    }

    static func json(_ status: HTTPResponse.Status, _ body: JSON, _ headers: [String: String]) -> Response {
        raw(status, body.bytes, headers)
    }

    static func raw(_ status: HTTPResponse.Status, _ text: String, _ headers: [String: String]) -> Response {
        raw(status, Array(text.utf8), headers)
    }

    static func raw(_ status: HTTPResponse.Status, _ bytes: [UInt8], _ headers: [String: String]) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json;charset=UTF-8"
        for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// A running simulator.
public struct Simulator: Sendable {
    public let exchange: Exchange

    public init(exchange: Exchange) { self.exchange = exchange }

    /// The Hummingbird application on `host:port` (port 0 picks a free one; `onRunning` gets the
    /// bound port). Run it as a Service (`runService()`, or in a ServiceGroup).
    public func application(
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var quiet = Logger(label: "binance-simulator")
        quiet.logLevel = .warning
        let exchange = exchange
        let ping = exchange.streams.pingInterval
        return Application(
            responder: SimulatorResponder(exchange: exchange),
            server: .http1WebSocketUpgrade(configuration: .init(ws: .init(autoPing: .enabled(timePeriod: ping)))) { request, _, _ in
                StreamServer.shouldUpgrade(request, exchange: exchange)
            },
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger ?? quiet
        )
    }
}
