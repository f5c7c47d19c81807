import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncCore

/// One Upbit account's REST calls (EXCHANGES.md §2): every request signed with a fresh JWT whose
/// `query_hash` covers the parameters as the query string reads before percent-encoding (what
/// the exchange hashes); listings paged to the end; cancels always by order id.
public struct UpbitClient: Sendable {
    public let baseURL: String
    let http: HTTPClient
    let accessKey: String
    let secret: Secret
    public var algorithm: UpbitAuth.Algorithm = .hs512
    public var timeout: TimeAmount = .seconds(10)
    /// The account's request pacing (nil: none, e.g. in wire tests).
    public var pacer: RequestPacer?
    /// How often a 429 is answered by waiting for the next second and sending again.
    public var retriesAfter429 = 3
    /// Bithumb API 2.0's tokens also carry the time they were made.
    public var timestampClaim = false
    /// The time for that claim.
    public var now: @Sendable () -> Millis = { Millis(Date().timeIntervalSince1970 * 1000) }
    /// Orders a page of `GET /v1/orders/open` holds at most.
    public static let pageSize = 100
    /// Orders `DELETE /v1/orders/uuids` takes at most.
    public static let batchLimit = 20

    public init(baseURL: String, accessKey: String, secret: Secret, http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.accessKey = accessKey
        self.secret = secret
        self.http = http
    }

    /// Percent-encodes a query component byte by byte: RFC 3986's unreserved characters (ASCII
    /// letters, digits, `-._~`) stay, every other UTF-8 byte becomes `%XX`. (Foundation's
    /// `addingPercentEncoding` with a `CharacterSet` built per call was a twentieth of a pass's CPU,
    /// and its `alphanumerics` would have let non-ASCII letters through unencoded.)
    static func encode(_ text: String) -> String {
        func unreserved(_ b: UInt8) -> Bool {
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
        }
        if text.utf8.allSatisfy(unreserved) { return text }
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3)
        for b in text.utf8 {
            if unreserved(b) {
                out.append(b)
            } else {
                out += [0x25, digits[Int(b >> 4)], digits[Int(b & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    package func call(_ method: HTTPMethod, _ path: String, _ params: [(String, String)]) async throws(UpbitError) -> [UInt8] {
        var attempt = 0
        while true {
            do {
                return try await callOnce(method, path, params)
            } catch  where error.kind == .rateLimited && attempt < retriesAfter429 && pacer != nil {
                // The pacer now waits for the next second; a 429 is refused before it is applied.
                attempt += 1
            }
        }
    }

    func callOnce(_ method: HTTPMethod, _ path: String, _ params: [(String, String)]) async throws(UpbitError) -> [UInt8] {
        await pacer?.admit()
        let raw = params.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(
            name: "Authorization",
            value: UpbitAuth.authorization(
                accessKey: accessKey,
                secret: secret,
                query: raw,
                timestamp: timestampClaim ? now() : nil,
                algorithm: algorithm
            )
        )
        if method == .POST {
            // In the parameters' order: the exchange hashes the body's k=v in the order written;
            // `key[]` parameters are one array (`{"order_ids": ["a", "b"]}`, hashed `order_ids[]=a&order_ids[]=b`).
            var fields: [(String, [String], Bool)] = []
            for (key, value) in params {
                if key.hasSuffix("[]") {
                    let name = String(key.dropLast(2))
                    if let i = fields.firstIndex(where: { $0.0 == name && $0.2 }) {
                        fields[i].1.append(value)
                    } else {
                        fields.append((name, [value], true))
                    }
                } else {
                    fields.append((key, [value], false))
                }
            }
            let body =
                "{"
                + fields.map { name, values, isArray in
                    UpbitAuth.quoted(name) + ":"
                        + (isArray ? "[" + values.map(UpbitAuth.quoted).joined(separator: ",") + "]" : UpbitAuth.quoted(values[0]))
                }.joined(separator: ",") + "}"
            request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            request.body = .bytes(ByteBuffer(string: body))
        } else if !params.isEmpty {
            request.url += "?" + params.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        let response: HTTPClientResponse
        let bytes: [UInt8]
        do {
            response = try await http.execute(request, timeout: timeout)
            bytes = Array(buffer: try await response.body.collect(upTo: 4 * 1024 * 1024))
        } catch {
            throw UpbitError(.transport, "\(method.rawValue) \(path): \(error)")
        }
        pacer?.observe(remaining: RequestPacer.remaining(response.headers["Remaining-Req"].first), refused: response.status.code == 429)
        guard (200..<300).contains(Int(response.status.code)) else { throw UpbitError.from(status: Int(response.status.code), body: bytes) }
        return bytes
    }

    /// Every resting order (`wait` and `watch`), in `market` or all markets, page by page to the end.
    public func openOrders(market: String? = nil, page first: Int = 1) async throws(UpbitError) -> [ExchangeOrder] {
        var orders: [ExchangeOrder] = []
        var page = first
        while true {
            var params: [(String, String)] = market.map { [("market", $0)] } ?? []
            params += [("states[]", "wait"), ("states[]", "watch"), ("page", String(page)), ("limit", String(Self.pageSize)), ("order_by", "asc")]
            let batch = try UpbitWire.orders(try await call(.GET, "/v1/orders/open", params))
            for order in batch { orders.append(try order.exchangeOrder()) }
            guard batch.count == Self.pageSize else { return orders }
            page += 1
        }
    }

    /// The markets Upbit lists (`GET /v1/market/all`, public).
    public func markets() async throws(UpbitError) -> [String] {
        struct Market: Decodable { var market: String }
        return try UpbitWire.decode([Market].self, try await call(.GET, "/v1/market/all", [])).map(\.market)
    }

    public func order(uuid: String) async throws(UpbitError) -> ExchangeOrder {
        try UpbitWire.decode(UpbitWire.Order.self, try await call(.GET, "/v1/order", [("uuid", uuid)])).exchangeOrder()
    }

    /// Orders by id, in any state (`GET /v1/orders/uuids`, at most 100): how cancels are settled.
    public func orders(uuids: [String]) async throws(UpbitError) -> [ExchangeOrder] {
        guard !uuids.isEmpty else { return [] }
        guard uuids.count <= 100 else { throw UpbitError(.rejected, "a query by ids names at most 100 orders") }
        let answer = try await call(.GET, "/v1/orders/uuids", uuids.map { ("uuids[]", $0) } + [("order_by", "asc")])
        var orders: [ExchangeOrder] = []
        for order in try UpbitWire.orders(answer) { orders.append(try order.exchangeOrder()) }
        return orders
    }

    /// Cancels one order; the answer shows it as it was when the cancel was accepted.
    public func cancel(uuid: String) async throws(UpbitError) -> ExchangeOrder {
        try UpbitWire.decode(UpbitWire.Order.self, try await call(.DELETE, "/v1/order", [("uuid", uuid)])).exchangeOrder()
    }

    /// Cancels up to twenty orders by id: the ids accepted and those refused.
    public func cancel(uuids: [String]) async throws(UpbitError) -> (cancelled: [String], failed: [String]) {
        guard uuids.count <= Self.batchLimit else { throw UpbitError(.rejected, "a batch cancel names at most \(Self.batchLimit) orders") }
        let answer = try UpbitWire.decode(UpbitWire.BatchCancel.self, try await call(.DELETE, "/v1/orders/uuids", uuids.map { ("uuids[]", $0) }))
        return (answer.success.orders.map(\.uuid), answer.failed.orders.map(\.uuid))
    }

    /// Places an order (tests and the demo).
    public func place(
        market: String,
        side: Side,
        volume: String,
        price: String,
        identifier: String? = nil
    ) async throws(UpbitError)
        -> ExchangeOrder
    {
        var params = [("market", market), ("side", side == .buy ? "bid" : "ask"), ("ord_type", "limit"), ("volume", volume), ("price", price)]
        if let identifier { params.append(("identifier", identifier)) }
        return try UpbitWire.decode(UpbitWire.Order.self, try await call(.POST, "/v1/orders", params)).exchangeOrder()
    }
}

extension UpbitWire {
    /// `DELETE /v1/orders/uuids`'s answer.
    public struct BatchCancel: Decodable, Sendable {
        public struct Part: Decodable, Sendable {
            public struct Item: Decodable, Sendable {
                public var uuid: String
            }
            public var count: Int
            public var orders: [Item]
        }
        public var success: Part
        public var failed: Part
    }
}
