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
/// Orders are stored by the exchange's own id (as the origin app does). A venue that keeps some
/// orders in an id space of their own (one exchange's conditional orders have ids of another
/// service) has ordersync store those as `<space>:<id>`, so the two spaces can never collide.
public struct ExchangeOrderID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The exact text of `open_orders.exchange_order_id`.
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// An order's id in its venue's main id space.
    public static func regular(_ id: Int64) -> ExchangeOrderID { ExchangeOrderID(String(id)) }
    /// An order's id in the venue's id space `space` (letters), stored as `<space>:<id>`.
    public static func namespaced(_ space: String, _ id: Int64) -> ExchangeOrderID { ExchangeOrderID("\(space):\(id)") }

    /// The id space when it is not the venue's main one (the letters before `:`), else nil.
    public var namespace: Substring? {
        guard let colon = rawValue.firstIndex(of: ":"), colon > rawValue.startIndex,
            rawValue[..<colon].allSatisfy({ $0.isASCII && $0.isLetter })
        else { return nil }
        return rawValue[..<colon]
    }
    /// The id the exchange itself knows, without ordersync's `<space>:` prefix.
    public var venueID: Substring {
        guard let space = namespace else { return rawValue[...] }
        return rawValue.dropFirst(space.count + 1)
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
