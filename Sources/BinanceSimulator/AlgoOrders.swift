import SyncCore

// The simulator meets the client only on the wire, so it spells Binance's algo ids itself: the
// scenario's and the client's `algo:<algoId>` (ExchangeOrderID's id space "algo").
extension ExchangeOrderID {
    static func algo(_ id: Int64) -> ExchangeOrderID { .namespaced("algo", id) }
    var isAlgo: Bool { namespace == "algo" }
}

extension ExchangeOrder {
    var isAlgo: Bool { id.isAlgo }
}
