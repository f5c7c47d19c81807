import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// The endpoints' work: `/healthz`, and the webhook proper (limits, payload, auth, duplicates, the action).
extension WebhookServer {
    func health() async -> Response {
        let h = await backend.health()
        let time = now()
        let age = h.lastPassAt.map { time - $0 }
        let stale = settings.maxPassAgeMs.flatMap { limit in age.map { $0 > limit } } ?? false
        struct Account: Encodable {
            var account_id: Int64
            var mode: String
            var markets: [String: String]
        }
        struct Streams: Encodable {
            var accounts_on_streams: Int
            var accounts_polling_only: Int
            var accounts: [Account]
        }
        struct Body: Encodable {
            var status: String
            var last_pass_at: String?
            var last_pass_age_ms: Int64?
            var last_pass_errors: Int
            var streams: Streams?
        }
        let streams = h.streams.map { accounts in
            Streams(
                accounts_on_streams: accounts.filter(\.onStreams).count,
                accounts_polling_only: accounts.filter { !$0.onStreams }.count,
                accounts: accounts.map { a in
                    Account(
                        account_id: a.accountID.rawValue,
                        mode: a.onStreams ? "streams" : "polling",
                        markets: Dictionary(uniqueKeysWithValues: a.markets.map { ($0.key.rawValue, $0.value) })
                    )
                }
            )
        }
        let body = Body(
            status: stale ? "stale" : "ok",
            last_pass_at: h.lastPassAt.map(UTC.iso8601),
            last_pass_age_ms: age,
            last_pass_errors: h.lastPassErrors,
            streams: streams
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
