/// The exchange product an order lives in. `open_orders.market_type` / `strategies.market_type`.
public enum Market: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Spot.
    case spot = "SPOT"
    /// Futures (each venue says which of its products this is, and whether it has one).
    case futures = "FUTURES"

    /// Strict parse of a stored value (`SPOT`, `FUTURES`, and the origin app's synonyms
    /// `FUTURE`, `DERIVATIVE`, `DERIVATIVES`), case-insensitive. Nil for anything else.
    public init?(stored text: String) {
        switch text.uppercased() {
        case "SPOT": self = .spot
        case "FUTURES", "FUTURE", "DERIVATIVE", "DERIVATIVES": self = .futures
        default: return nil
        }
    }

    /// The origin webhook's lenient rule: FUTURE/FUTURES/DERIVATIVE(S) mean futures, anything
    /// else spot.
    public init(webhookValue text: String) {
        self = Market(stored: text) ?? .spot
    }

    public static func < (lhs: Market, rhs: Market) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// `BUY` or `SELL`.
public enum Side: String, Sendable, Hashable, Codable, CaseIterable {
    case buy = "BUY"
    case sell = "SELL"

    /// Case-insensitive parse.
    public init?(parsing text: String) {
        self.init(rawValue: text.uppercased())
    }
}

/// An order type as the exchange or the origin app names it (`LIMIT`, `STOP_MARKET`, …).
/// Open-ended: an unknown type is kept verbatim rather than rejected.
public struct OrderType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }
    public init(_ text: String) { self.init(rawValue: text) }
    public var description: String { rawValue }

    public static let limit = OrderType("LIMIT")
    public static let market = OrderType("MARKET")
    public static let limitMaker = OrderType("LIMIT_MAKER")
    public static let stopLoss = OrderType("STOP_LOSS")
    public static let stopLossLimit = OrderType("STOP_LOSS_LIMIT")
    public static let takeProfit = OrderType("TAKE_PROFIT")
    public static let takeProfitLimit = OrderType("TAKE_PROFIT_LIMIT")
    public static let stop = OrderType("STOP")
    public static let stopMarket = OrderType("STOP_MARKET")
    public static let stopLimit = OrderType("STOP_LIMIT")
    public static let takeProfitMarket = OrderType("TAKE_PROFIT_MARKET")
    public static let trailingStopMarket = OrderType("TRAILING_STOP_MARKET")

    /// Whether the order rests until a trigger price (a venue may keep these in an id space of
    /// their own).
    public var isConditional: Bool {
        switch rawValue {
        case "STOP", "STOP_MARKET", "STOP_LIMIT", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET":
            return true
        default:
            return false
        }
    }
}

/// An order's status: what it means, in the terms the decision reads (`phase`), and the venue's
/// own word for it (`venueText`: `NEW`, `TRIGGERING`, `wait`, `cancel`, …). Each venue maps its
/// words to a phase; the core never reads the word.
public struct ExchangeOrderStatus: Sendable, Hashable, CustomStringConvertible {
    /// What an order's status means. Raw values are the unified vocabulary the origin app writes
    /// (`NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELED`, …, whatever the venue's own words).
    public enum Phase: String, Sendable, Hashable, Codable, CaseIterable {
        /// Resting (or waiting for its trigger), nothing filled.
        case open = "NEW"
        /// Resting with part filled.
        case partiallyFilled = "PARTIALLY_FILLED"
        /// Completely filled (final).
        case filled = "FILLED"
        /// Cancelled by the user or elsewhere (final; part may have filled).
        case cancelled = "CANCELED"
        /// Expired by time-in-force, self-trade prevention or the exchange (final).
        case expired = "EXPIRED"
        /// Rejected (final).
        case rejected = "REJECTED"
        /// A conditional order that fired: another order took its place (final for this one).
        case triggered = "TRIGGERED"
    }

    public var phase: Phase
    /// The venue's word, verbatim.
    public var venueText: String

    public init(_ phase: Phase, venueText: String? = nil) {
        self.phase = phase
        self.venueText = venueText ?? phase.rawValue
    }

    public static let new = ExchangeOrderStatus(.open)
    public static let partiallyFilled = ExchangeOrderStatus(.partiallyFilled)
    public static let filled = ExchangeOrderStatus(.filled)
    public static let canceled = ExchangeOrderStatus(.cancelled)
    public static let expired = ExchangeOrderStatus(.expired)
    public static let rejected = ExchangeOrderStatus(.rejected)

    /// The status of an order known to be open, from what it has filled (the orphan registry keeps
    /// only open orders and the venue's word).
    public static func resting(venueText: String, executed: Amount) -> ExchangeOrderStatus {
        ExchangeOrderStatus(executed.isZero ? .open : .partiallyFilled, venueText: venueText)
    }

    /// Whether the order can still trade or be cancelled.
    public var isOpen: Bool { phase == .open || phase == .partiallyFilled }

    /// The state an open order has in `open_orders.status`; nil for final statuses.
    public var openState: OpenState? {
        switch phase {
        case .open: return .open
        case .partiallyFilled: return .partiallyFilled
        default: return nil
        }
    }

    /// The venue's word, and the phase when the word is not the phase's own name.
    public var description: String { venueText == phase.rawValue ? venueText : "\(venueText) (\(phase.rawValue))" }
}

/// The two states an `open_orders` row can truthfully have while its order rests.
public enum OpenState: String, Sendable, Hashable, Codable {
    /// Stored as `OPEN`.
    case open = "OPEN"
    /// Stored as `PARTIALLY_FILLED`.
    case partiallyFilled = "PARTIALLY_FILLED"

    /// Reads `open_orders.status` as written by the origin app (`OPEN`/`NEW` → open,
    /// `PARTIALLY_FILLED`); nil for anything else (`PENDING`, `CANCELLING`, …).
    public init?(storedStatus text: String) {
        switch text.uppercased() {
        case "OPEN", "NEW": self = .open
        case "PARTIALLY_FILLED": self = .partiallyFilled
        default: return nil
        }
    }
}
