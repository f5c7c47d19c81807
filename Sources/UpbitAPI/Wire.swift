import FlatJSON
import Foundation
import SyncCore

/// Upbit's JSON, as its REST API sends it (EXCHANGES.md §2): every number a string, null fields
/// omitted, errors as `{"error": {"name", "message"}}` whose `name` may be a number.
public enum UpbitWire {
    /// An order object (`GET /v1/orders/open`, `GET /v1/order`, `DELETE /v1/order`).
    public struct Order: Decodable, Sendable, Hashable {
        public var uuid: String
        public var side: String
        public var ord_type: String
        public var price: String?
        public var state: String
        public var market: String
        public var created_at: String
        public var volume: String?
        public var remaining_volume: String?
        public var executed_volume: String?
        public var identifier: String?
        /// Bithumb's name for the client's id.
        public var client_order_id: String?

        /// The order in ordersync's model: `BTC/KRW`'s key for `KRW-BTC`, the side and status mapped,
        /// the `identifier` as the client order id (where ordersync's tags live).
        public func exchangeOrder() throws(UpbitError) -> ExchangeOrder {
            guard let side = UpbitWire.side(side) else { throw .decoding("side \"\(side)\" is not bid or ask") }
            let executed = try UpbitWire.amount(executed_volume ?? "0", "executed_volume")
            guard let status = UpbitWire.status(state, executed: executed) else { throw .decoding("state \"\(state)\" is not an order state") }
            guard let time = UpbitWire.time(created_at) else { throw .decoding("created_at \"\(created_at)\" is not ISO 8601") }
            return ExchangeOrder(
                id: ExchangeOrderID(uuid),
                clientOrderID: identifier ?? client_order_id,
                symbol: SymbolKey.of(market),
                side: side,
                type: UpbitWire.type(ord_type),
                status: status,
                price: try UpbitWire.amount(price ?? "0", "price"),
                quantity: try UpbitWire.amount(volume ?? "0", "volume"),
                executedQuantity: executed,
                time: time
            )
        }
    }

    /// `{"error": {"name": "order_not_found", "message": "…"}}`.
    public struct ErrorBody: Decodable, Sendable {
        public struct Detail: Decodable, Sendable {
            public var name: String
            public var message: String?

            enum CodingKeys: String, CodingKey { case name, message }
            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                // A number on some paths (`"name": 400`).
                if let number = try? c.decode(Int.self, forKey: .name) {
                    name = String(number)
                } else {
                    name = try c.decode(String.self, forKey: .name)
                }
                message = try c.decodeIfPresent(String.self, forKey: .message)
            }
        }
        public var error: Detail
    }

    /// Upbit's market code of a symbol in any spelling: `BTC/KRW`, `BTCKRW` and `KRW-BTC` are
    /// `KRW-BTC` (quote first). Nil when no quote market it lists ends the symbol.
    public static func market(_ symbol: String) -> String? {
        let upper = symbol.uppercased()
        if upper.contains("-") { return upper }
        let key = SymbolKey.of(upper)
        for quote in ["USDT", "KRW", "BTC"] where key.hasSuffix(quote) && key.count > quote.count {
            return quote + "-" + key.dropLast(quote.count)
        }
        return nil
    }

    static func side(_ text: String) -> Side? {
        switch text {
        case "bid": return .buy
        case "ask": return .sell
        default: return nil
        }
    }

    /// `limit` is LIMIT; `price` (a market buy by amount) and `market` (a market sell) are MARKET,
    /// as the origin names them; anything else (`best`) upper-cased.
    static func type(_ ordType: String) -> OrderType {
        switch ordType {
        case "limit": return .limit
        case "price", "market": return .market
        default: return OrderType(ordType)
        }
    }

    /// `wait` (resting; partly filled when some volume executed), `watch` (a reserved order waiting
    /// for its trigger: open), `done` (filled), `cancel` (cancelled, possibly after part filled — a
    /// market buy that executes completely usually ends `cancel` too).
    static func status(_ state: String, executed: Amount) -> ExchangeOrderStatus? {
        switch state {
        case "wait", "watch": return .resting(venueText: state, executed: executed)
        case "done": return ExchangeOrderStatus(.filled, venueText: state)
        case "cancel": return ExchangeOrderStatus(.cancelled, venueText: state)
        default: return nil
        }
    }

    static func amount(_ text: String, _ field: String) throws(UpbitError) -> Amount {
        guard let value = Amount(text) else { throw .decoding("\(field) \"\(text)\" is not a decimal") }
        return value
    }

    /// ISO 8601 with its offset (`2018-04-05T14:09:14+09:00`, `2024-06-05T09:37:10Z`), as ms since the epoch.
    static func time(_ text: String) -> Millis? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 25, utf8[utf8.count - 3] == UInt8(ascii: ":"),
            utf8[utf8.count - 6] == UInt8(ascii: "+") || utf8[utf8.count - 6] == UInt8(ascii: "-")
        else { return UTC.parse(text) }
        let offsetText = utf8.suffix(5)
        guard let hours = Int(String(decoding: offsetText.prefix(2), as: UTF8.self)),
            let minutes = Int(String(decoding: offsetText.suffix(2), as: UTF8.self)),
            let local = UTC.parse(String(decoding: utf8.dropLast(6), as: UTF8.self))
        else { return nil }
        let offset = Millis(hours * 3600 + minutes * 60) * 1000
        return utf8[utf8.count - 6] == UInt8(ascii: "+") ? local - offset : local + offset
    }

    /// A list of order objects: the fast reader when it understands the body, `JSONDecoder`
    /// otherwise (whose answer is then the answer).
    public static func orders(_ bytes: [UInt8]) throws(UpbitError) -> [Order] {
        if let objects = FlatJSON.objects(bytes, keys: Order.flatKeys) {
            var out: [Order] = []
            out.reserveCapacity(objects.count)
            for object in objects {
                guard let order = Order(flat: object) else { return try decode([Order].self, bytes) }
                out.append(order)
            }
            return out
        }
        return try decode([Order].self, bytes)
    }

    /// Decodes `type` from a body, as a typed error naming what did not parse.
    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws(UpbitError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw .decoding("not the expected \(T.self): \(error)")
        }
    }
}

/// What went wrong talking to Upbit (never a key, token or signature).
public struct UpbitError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case decoding, notFound, authentication, rateLimited, banned, rejected, transport
    }
    public var kind: Kind
    public var message: String
    public var description: String { "\(kind.rawValue): \(message)" }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    static func decoding(_ message: String) -> UpbitError { UpbitError(.decoding, message) }

    /// The error an HTTP answer stands for: the status, then the body's `error.name`.
    public static func from(status: Int, body: [UInt8]) -> UpbitError {
        let name = (try? UpbitWire.decode(UpbitWire.ErrorBody.self, body))?.error.name ?? ""
        switch (status, name) {
        case (_, "order_not_found"), (404, _): return UpbitError(.notFound, "HTTP \(status) \(name)")
        case (401, _): return UpbitError(.authentication, "HTTP 401 \(name)")
        case (429, _): return UpbitError(.rateLimited, "HTTP 429 \(name)")
        case (418, _): return UpbitError(.banned, "HTTP 418 \(name)")
        case (400..<500, _): return UpbitError(.rejected, "HTTP \(status) \(name)")
        default: return UpbitError(.transport, "HTTP \(status) \(name)")
        }
    }
}

extension UpbitWire.Order: FlatDecodable {
    public static let flatKeys = [
        "uuid", "side", "ord_type", "price", "state", "market", "created_at", "volume", "remaining_volume", "executed_volume", "identifier",
        "client_order_id",
    ]

    public init?(flat f: [FlatJSON.Value?]) {
        guard let uuid = f[0].requiredString, let side = f[1].requiredString, let ordType = f[2].requiredString,
            let price = f[3].optionalString, let state = f[4].requiredString, let market = f[5].requiredString,
            let createdAt = f[6].requiredString, let volume = f[7].optionalString, let remaining = f[8].optionalString,
            let executed = f[9].optionalString, let identifier = f[10].optionalString, let clientOrderID = f[11].optionalString
        else { return nil }
        self.init(
            uuid: uuid,
            side: side,
            ord_type: ordType,
            price: price,
            state: state,
            market: market,
            created_at: createdAt,
            volume: volume,
            remaining_volume: remaining,
            executed_volume: executed,
            identifier: identifier,
            client_order_id: clientOrderID
        )
    }
}
