/// An integer primary key of one of the origin app's tables, typed so that ids of different
/// tables cannot be mixed up.
public protocol Int64Identifier: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    CustomStringConvertible
where RawValue == Int64 {
    init(_ rawValue: Int64)
}

extension Int64Identifier {
    public init(rawValue: Int64) { self.init(rawValue) }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(Int64.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// `users.id`.
public struct UserID: Int64Identifier {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
}

/// `accounts.id`: one exchange account (one API key pair).
public struct AccountID: Int64Identifier {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
}

/// `strategies.id`.
public struct StrategyID: Int64Identifier {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
}

/// `strategy_accounts.id`: the link of one strategy to one account, the unit of ownership of
/// an order (`open_orders.strategy_account_id`).
public struct StrategyLinkID: Int64Identifier {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
}

/// `open_orders.id`.
public struct OpenOrderRowID: Int64Identifier {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
}

/// The exchange's id of an order, as stored in `open_orders.exchange_order_id`.
///
/// Regular orders are stored as the exchange's decimal `orderId` (as the origin app does).
/// USDⓈ-M conditional orders live in Binance's Algo service with their own id space (`algoId`);
/// ordersync stores them as `algo:<algoId>` so the two spaces can never collide.
public struct ExchangeOrderID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The exact text of `open_orders.exchange_order_id`.
    public let rawValue: String

    public static let algoPrefix = "algo:"

    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// A regular order's id (`orderId`).
    public static func regular(_ id: Int64) -> ExchangeOrderID { ExchangeOrderID(String(id)) }
    /// A conditional order's id in the Algo service (`algoId`).
    public static func algo(_ id: Int64) -> ExchangeOrderID { ExchangeOrderID(algoPrefix + String(id)) }

    /// Whether this names an order of the futures Algo service.
    public var isAlgo: Bool { rawValue.hasPrefix(Self.algoPrefix) }
    /// The id the exchange itself knows (`orderId` or `algoId`), without ordersync's prefix.
    public var venueID: Substring {
        isAlgo ? rawValue.dropFirst(Self.algoPrefix.count) : rawValue[...]
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        // Numeric ids sort numerically (shorter first), others lexically.
        if lhs.rawValue.utf8.count != rhs.rawValue.utf8.count {
            return lhs.rawValue.utf8.count < rhs.rawValue.utf8.count
        }
        return lhs.rawValue < rhs.rawValue
    }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Milliseconds since the Unix epoch, the exchange's unit of time. Time is always an input.
public typealias Millis = Int64
