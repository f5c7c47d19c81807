import Scenarios
import SyncCore

/// One order as the simulated exchange keeps it (open or final), regular or algo.
public struct SimOrder: Sendable, Hashable {
    public var product: Product
    public var account: AccountID
    /// `orderId`, or `algoId` for an algo order.
    public var id: Int64
    public var isAlgo: Bool
    /// `clientOrderId` (`clientAlgoId` for algo orders).
    public var clientOrderID: String
    public var symbol: String
    public var side: Side
    public var type: String
    public var timeInForce: String
    public var price: Amount
    /// Spot `stopPrice`, futures `stopPrice`, algo `triggerPrice`.
    public var stopPrice: Amount
    public var quantity: Amount
    public var executed: Amount
    /// Quote quantity filled (`cummulativeQuoteQty` / `cumQuote`), informational.
    public var cumQuote: Double
    /// Exchange status (for algo orders: NEW, CANCELED, FINISHED, EXPIRED, …).
    public var status: BinanceStatus
    public var time: Millis
    public var updateTime: Millis
    public var reduceOnly: Bool
    public var positionSide: String

    /// ordersync's view of this order.
    public var exchangeOrder: ExchangeOrder {
        ExchangeOrder(
            id: isAlgo ? .algo(id) : .regular(id),
            clientOrderID: clientOrderID,
            symbol: symbol,
            side: side,
            type: OrderType(type),
            status: ExchangeOrderStatus(status.phase, venueText: status.rawValue),
            price: price,
            stopPrice: stopPrice.isZero ? nil : stopPrice,
            quantity: quantity,
            executedQuantity: executed,
            time: time
        )
    }
}

/// Binance's order statuses, as the simulator keeps them.
public enum BinanceStatus: String, Sendable, Hashable, CaseIterable {
    case new = "NEW"
    case partiallyFilled = "PARTIALLY_FILLED"
    case filled = "FILLED"
    case canceled = "CANCELED"
    case expired = "EXPIRED"
    case rejected = "REJECTED"
    /// Algo service: the trigger fired and its order is done.
    case finished = "FINISHED"
    /// Algo service: the trigger fired and its order rests.
    case triggered = "TRIGGERED"

    /// A scenario's status, in Binance's words.
    public init(_ status: ExchangeOrderStatus) {
        switch status.phase {
        case .open: self = .new
        case .partiallyFilled: self = .partiallyFilled
        case .filled: self = .filled
        case .cancelled: self = .canceled
        case .expired: self = .expired
        case .rejected: self = .rejected
        case .triggered: self = .triggered
        }
    }

    public var phase: ExchangeOrderStatus.Phase {
        switch self {
        case .new: return .open
        case .partiallyFilled: return .partiallyFilled
        case .filled, .finished: return .filled
        case .canceled: return .cancelled
        case .expired: return .expired
        case .rejected: return .rejected
        case .triggered: return .triggered
        }
    }

    public var isOpen: Bool { self == .new || self == .partiallyFilled }
}

/// A new regular order as requested.
public struct NewOrder: Sendable {
    public var symbol: String
    public var side: Side
    public var type: String
    public var timeInForce: String?
    public var quantity: Amount?
    public var price: Amount?
    public var stopPrice: Amount?
    public var clientOrderID: String?
    public var reduceOnly = false
    public var positionSide = "BOTH"

    public init(
        symbol: String,
        side: Side,
        type: String,
        timeInForce: String? = nil,
        quantity: Amount?,
        price: Amount? = nil,
        stopPrice: Amount? = nil,
        clientOrderID: String? = nil
    ) {
        self.symbol = symbol
        self.side = side
        self.type = type
        self.timeInForce = timeInForce
        self.quantity = quantity
        self.price = price
        self.stopPrice = stopPrice
        self.clientOrderID = clientOrderID
    }
}

/// Names one order: by id or by client id.
public enum OrderRef: Sendable, Hashable {
    case id(Int64)
    case client(String)
}

/// What the market does to an order "from elsewhere" (control API).
public enum MarketAction: String, Sendable, CaseIterable {
    /// Fill the rest at the order's price (or the mark for market orders).
    case fill
    /// Fill part (the given quantity, default half of what remains).
    case partialFill = "partial_fill"
    /// Expire it.
    case expire
    /// Cancel it (by the user on another device, a UI, another bot).
    case cancel
}
