import SyncCore

extension ExchangeOrderID {
    /// USDⓈ-M conditional orders live in Binance's Algo service with ids of their own (`algoId`);
    /// ordersync stores them as `algo:<algoId>`, so they never collide with an `orderId`.
    public static func algo(_ id: Int64) -> ExchangeOrderID { .namespaced("algo", id) }

    /// Whether this names an order of the futures Algo service.
    public var isAlgo: Bool { namespace == "algo" }
}

extension ExchangeOrder {
    /// Whether this is a conditional order of the futures Algo service.
    public var isAlgo: Bool { id.isAlgo }
}
