#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An error of the webhook, as the HTTP response carries it: `{"error": {"code", "message"}}`.
/// Messages never contain a token or any other secret.
public struct WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        case invalidJSON = "invalid_json"
        case invalidPayload = "invalid_payload"
        case missingToken = "missing_token"
        case forbidden
        case unsupportedOrderType = "unsupported_order_type"
        case staleTimestamp = "stale_timestamp"
        case payloadTooLarge = "payload_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case rateLimited = "rate_limited"
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case internalError = "internal_error"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A request error the HTTP layer found before the webhook read the request, as the documented
    /// code closest to its status (a client error is never answered as the server's).
    public init(clientError status: Int, _ message: String) {
        switch status {
        case 401: self.init(.missingToken, message)
        case 403: self.init(.forbidden, message)
        case 404: self.init(.notFound, message)
        case 405: self.init(.methodNotAllowed, message)
        case 413: self.init(.payloadTooLarge, message)
        case 415: self.init(.unsupportedMediaType, message)
        case 429: self.init(.rateLimited, message)
        default: self.init(.invalidPayload, message)
        }
    }

    /// The HTTP status of the response.
    public var statusCode: Int {
        switch code {
        case .invalidJSON, .invalidPayload: return 400
        case .missingToken: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .methodNotAllowed: return 405
        case .payloadTooLarge: return 413
        case .unsupportedMediaType: return 415
        case .unsupportedOrderType, .staleTimestamp: return 422
        case .rateLimited: return 429
        case .internalError: return 500
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The one answer to a wrong token, an unknown group and an inactive strategy alike.
    public static let forbidden = WebhookError(.forbidden, "the token is not valid for this strategy, or the strategy is unknown or inactive")
}

/// What a webhook asks for.
public enum WebhookAction: String, Sendable, Hashable, Codable {
    /// Cancel the strategy's DB-recorded open orders (filters: symbol, side, market, exchange).
    case cancelAll = "CANCEL_ALL_ORDER"
    /// Reconcile every account in the token's scope now.
    case reconcile = "RECONCILE"
}

/// The origin app's webhook payload, normalised: keys case-insensitive with its aliases
/// (`platform` → `exchange`, `user_token` → `token`, `stopprice` → `stop_price`), `order_type`
/// upper-cased with `-` and spaces turned into `_`, its market-type synonyms.
public struct WebhookPayload: Sendable, Hashable {
    public var groupName: String
    /// The caller's token (a `users.webhook_token`); never logged or echoed.
    public var token: Secret?
    public var action: WebhookAction
    public var exchange: String?
    public var market: Market?
    public var symbol: String?
    public var side: Side?
    public var idempotencyKey: String?
    /// When the sender made the request (ms since the epoch).
    public var timestamp: Millis?
    /// Accepted for compatibility; it changes nothing (never a bypass).
    public var testMode: Bool

    static let aliases = ["platform": "exchange", "user_token": "token", "stopprice": "stop_price"]
    /// Keys of the origin app's payload that a cancel or reconcile does not use.
    static let ignored: Set<String> = ["currency", "price", "stop_price", "qty_per", "quantity", "leverage", "message", "comment"]
    static let orderTypes: Set<String> = ["MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT", "CANCEL", "CANCEL_ALL_ORDER", "RECONCILE"]

    /// Parses and checks a request body. `now` and `maxLag` check `timestamp`.
    public static func parse(_ body: [UInt8], now: Millis, maxLag: Millis) throws(WebhookError) -> WebhookPayload {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw WebhookError(.invalidJSON, "the body is not valid JSON")
        }
        guard case .object(let pairs) = value else { throw WebhookError(.invalidPayload, "the body must be a JSON object") }
        var fields: [String: JSONValue] = [:]
        for (rawKey, v) in pairs {
            let lowered = rawKey.lowercased()
            let key = aliases[lowered] ?? lowered
            guard fields[key] == nil else { throw WebhookError(.invalidPayload, "\(key) is given more than once") }
            fields[key] = v
        }
        func string(_ key: String) throws(WebhookError) -> String? {
            guard let v = fields[key] else { return nil }
            switch v {
            case .null: return nil
            case .string(let s):
                let trimmed = s.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()
                return trimmed.isEmpty ? nil : String(trimmed)
            default: throw WebhookError(.invalidPayload, "\(key) must be a string")
            }
        }
        if fields["orders"] != nil {
            throw WebhookError(
                .unsupportedOrderType,
                "batch payloads (orders: [...]) are not handled: ordersync handles CANCEL_ALL_ORDER and RECONCILE only"
            )
        }
        guard let rawType = try string("order_type") else { throw WebhookError(.invalidPayload, "order_type is required") }
        let orderType = String(rawType.uppercased().map { $0 == "-" || $0 == " " ? "_" : $0 })
        guard let action = WebhookAction(rawValue: orderType) else {
            let known = orderTypes.contains(orderType) ? "" : " (not an order type the origin app knows either)"
            throw WebhookError(
                .unsupportedOrderType,
                "order_type \(orderType.prefix(40)) is not handled\(known): ordersync handles CANCEL_ALL_ORDER and RECONCILE only"
            )
        }
        guard let group = try string("group_name") else { throw WebhookError(.invalidPayload, "group_name is required") }
        guard group.count <= 100 else { throw WebhookError(.invalidPayload, "group_name is longer than 100 characters") }
        var payload = WebhookPayload(groupName: group, token: try string("token").map(Secret.init), action: action, testMode: false)
        payload.exchange = try string("exchange")?.uppercased()
        if let m = try string("market_type") {
            // The origin app's rule: FUTURE(S) and DERIVATIVE(S) mean FUTURES, anything else SPOT.
            payload.market = Market(stored: m) ?? (["FUTURE", "FUTURES", "DERIVATIVE", "DERIVATIVES"].contains(m.uppercased()) ? .futures : .spot)
        }
        if let s = try string("symbol") {
            let symbol = SymbolKey.of(s)
            guard symbol.count <= 30, symbol.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw WebhookError(.invalidPayload, "symbol must be a pair such as BTC/USDT or BTCUSDT")
            }
            payload.symbol = symbol
        }
        if let s = try string("side") {
            guard let side = Side(parsing: s) else { throw WebhookError(.invalidPayload, "side must be BUY or SELL") }
            payload.side = side
        }
        if let key = try string("idempotency_key") {
            guard key.count <= 128 else { throw WebhookError(.invalidPayload, "idempotency_key is longer than 128 characters") }
            payload.idempotencyKey = key
        }
        switch fields["test_mode"] {
        case nil, .null: break
        case .bool(let b): payload.testMode = b
        default: throw WebhookError(.invalidPayload, "test_mode must be true or false")
        }
        switch fields["timestamp"] {
        case nil, .null: break
        case .number(let n) where n == n.rounded() && abs(n) < 1e15: payload.timestamp = Millis(n)
        case .string(let s) where Millis(s) != nil: payload.timestamp = Millis(s)
        default: throw WebhookError(.invalidPayload, "timestamp must be milliseconds since the epoch")
        }
        if let t = payload.timestamp, now - t > maxLag {
            throw WebhookError(.staleTimestamp, "timestamp is \(now - t) ms old; at most \(maxLag) ms is accepted")
        }
        return payload
    }

    /// The normalised request without the token, for duplicate detection (the token is hashed
    /// separately by the caller).
    public var fingerprint: String {
        [
            groupName, action.rawValue, exchange ?? "", market?.rawValue ?? "", symbol ?? "", side?.rawValue ?? "",
            timestamp.map(String.init) ?? "",
        ].joined(separator: "\u{1F}")
    }
}

/// A coding key for any string: objects whose keys are data (counts by kind, unknown-key checks).
public struct AnyCodingKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
    public init(_ string: String) { stringValue = string }
}

/// A JSON value, decoded without Foundation's `JSONSerialization` (keys keep their order).
public enum JSONValue: Sendable, Hashable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: AnyCodingKey.self) {
            self = .object(try c.allKeys.map { ($0.stringValue, try c.decode(JSONValue.self, forKey: $0)) })
            return
        }
        if var c = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !c.isAtEnd { items.append(try c.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let n): hasher.combine(n)
        case .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let o):
            for (k, v) in o {
                hasher.combine(k)
                hasher.combine(v)
            }
        }
    }
}

/// Who may act on a strategy: its owner and the users who own the accounts of its links.
public struct StrategyAccess: Sendable, Hashable {
    public struct Link: Sendable, Hashable {
        public var link: StrategyLinkID
        public var account: AccountID
        /// The user who owns the account (a subscriber, or the owner).
        public var accountOwner: UserID
        public var market: Market
        /// Link and account both active.
        public var isActive: Bool
        public var exchange: String

        public init(link: StrategyLinkID, account: AccountID, accountOwner: UserID, market: Market, isActive: Bool, exchange: String) {
            self.link = link
            self.account = account
            self.accountOwner = accountOwner
            self.market = market
            self.isActive = isActive
            self.exchange = exchange
        }
    }

    public var strategy: StrategyID
    public var groupName: String
    public var owner: UserID
    public var isActive: Bool
    public var links: [Link]
    /// Webhook tokens of the owner and the account owners, by user id (active users only).
    public var tokens: [UserID: Secret]

    public init(strategy: StrategyID, groupName: String, owner: UserID, isActive: Bool, links: [Link], tokens: [UserID: Secret]) {
        self.strategy = strategy
        self.groupName = groupName
        self.owner = owner
        self.isActive = isActive
        self.links = links
        self.tokens = tokens
    }

    /// The links a user may act on: the owner every active link, anyone else only the active
    /// links of accounts they own (a subscriber never reaches another subscriber's account).
    public func scope(for user: UserID) -> [Link] {
        guard isActive else { return [] }
        return links.filter { $0.isActive && (user == owner || $0.accountOwner == user) }
    }
}
