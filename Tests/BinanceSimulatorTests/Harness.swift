import AsyncHTTPClient
import BinanceSimulator
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SyncCore
import Synchronization
import Testing

/// A clock tests move by hand; `wall()` follows real time (for clients that stamp real time).
final class ManualClock: Sendable {
    private let value: Mutex<Millis>
    private let live: Bool
    init(_ start: Millis = 1_800_000_000_000) {
        value = Mutex(start)
        live = false
    }
    private init(live: Void) {
        value = Mutex(0)
        self.live = true
    }
    static func wall() -> ManualClock { ManualClock(live: ()) }
    var now: Millis { value.withLock { $0 } + (live ? Int64(Date().timeIntervalSince1970 * 1000) : 0) }
    func advance(_ ms: Millis) { value.withLock { $0 += ms } }
    var source: @Sendable () -> Millis { { [self] in self.now } }
}

/// A simulator on a free loopback port for the duration of a test, with a signing client.
struct Harness: Sendable {
    let exchange: Exchange
    let base: String
    let clock: ManualClock
    static let key = "test-key-1", secret = "test-secret-1"
    static let key2 = "test-key-2", secret2 = "test-secret-2"
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/binance")

    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
        var code: Int? { (json as? [String: Any])?["code"] as? Int }
    }

    @discardableResult
    static func with<T: Sendable>(
        _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
        clock: ManualClock = ManualClock(),
        _ body: @Sendable (Harness) async throws -> T
    ) async throws -> T {
        let exchange = Exchange(configuration: configuration, clock: clock.source)
        await exchange.addAccount(AccountID(1), apiKey: key, secret: secret)
        await exchange.addAccount(AccountID(2), apiKey: key2, secret: secret2)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Simulator(exchange: exchange).application(port: 0) { continuation.yield($0) }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService()
                return nil
            }
            var it = ports.makeAsyncIterator()
            guard let port = await it.next() else { throw CancellationError() }
            let harness = Harness(exchange: exchange, base: "http://127.0.0.1:\(port)", clock: clock)
            let result = try await body(harness)
            group.cancelAll()
            return result
        }
    }

    /// A raw request: the query and body exactly as given.
    func raw(_ method: HTTPMethod, _ path: String, query: String = "", body: String = "", headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path + (query.isEmpty ? "" : "?" + query))
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        // (AsyncHTTPClient's shared client: nothing to shut down.)
        let bytes = try await response.body.collect(upTo: 4 << 20)
        var headers: [String: String] = [:]
        for h in response.headers { headers[h.name.lowercased()] = h.value }
        return Reply(status: Int(response.status.code), headers: headers, body: String(buffer: bytes))
    }

    /// A signed request as an official client sends it: params URL-encoded, timestamp added,
    /// signature last; in the query (GET/DELETE) or a form body (POST) unless told otherwise.
    func signed(
        _ method: HTTPMethod,
        _ path: String,
        _ params: [(String, String)] = [],
        key: String = Harness.key,
        secret: String = Harness.secret,
        timestamp: Millis? = nil,
        inBody: Bool? = nil,
        signature: String? = nil
    ) async throws -> Reply {
        var items = params
        items.append(("timestamp", String(timestamp ?? clock.now)))
        let payload = items.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        let sig = signature ?? Self.hmac(secret, payload)
        let full = payload + "&signature=" + sig
        if inBody ?? (method == .POST) {
            return try await raw(method, path, body: full, headers: [("X-MBX-APIKEY", key)])
        }
        return try await raw(method, path, query: full, headers: [("X-MBX-APIKEY", key)])
    }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// HMAC-SHA256 hex, computed with swift-crypto directly (not the simulator's code).
    static func hmac(_ secret: String, _ payload: String) -> String {
        HMACHelper.hex(secret: secret, payload: payload)
    }

    /// Places a futures LIMIT order well below the mark (rests) and returns its id.
    func restingFutures(
        _ symbol: String = "BTCUSDT",
        price: String = "50000",
        qty: String = "0.002",
        client: String? = nil,
        key: String = Harness.key,
        secret: String = Harness.secret
    ) async throws -> Int64 {
        var p = [("symbol", symbol), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", qty), ("price", price)]
        if let client { p.append(("newClientOrderId", client)) }
        let reply = try await signed(.POST, "/fapi/v1/order", p, key: key, secret: secret)
        try #require(reply.status == 200, "\(reply.body)")
        return try Self.orderID(reply)
    }

    func restingSpot(_ symbol: String = "BTCUSDT", price: String = "50000", qty: String = "0.002", client: String? = nil) async throws -> Int64 {
        var p = [("symbol", symbol), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", qty), ("price", price)]
        if let client { p.append(("newClientOrderId", client)) }
        let reply = try await signed(.POST, "/api/v3/order", p)
        try #require(reply.status == 200, "\(reply.body)")
        return try Self.orderID(reply)
    }

    static func orderID(_ reply: Reply, key: String = "orderId") throws -> Int64 {
        let value = (reply.json as? [String: Any])?[key] as? NSNumber
        return try #require(value?.int64Value, "no \(key) in \(reply.body)")
    }
}

enum HMACHelper {
    static func hex(secret: String, payload: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: SymmetricKey(data: Array(secret.utf8)))
            .map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
