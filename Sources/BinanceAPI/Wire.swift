import Foundation
import SyncCore

/// Responses as the client reads them (fields it needs; unknown fields ignored).
enum Wire {
    struct Order: Decodable {
        var symbol: String
        var orderId: Int64
        var clientOrderId: String?
        var origClientOrderId: String?
        var price: String
        var origQty: String
        var executedQty: String
        var status: String
        var type: String
        var side: String
        var stopPrice: String?
        var time: Int64?
        var updateTime: Int64?
        var transactTime: Int64?

        func exchangeOrder(cancelResponse: Bool = false) throws(BinanceError) -> ExchangeOrder {
            // A spot cancel answers with the cancel's own id in clientOrderId; the order's is orig….
            let client = cancelResponse ? (origClientOrderId ?? clientOrderId) : clientOrderId
            return ExchangeOrder(
                id: .regular(orderId),
                clientOrderID: client,
                symbol: symbol,
                side: try Wire.side(side),
                type: OrderType(type),
                status: try Wire.status(status),
                price: try Wire.amount(price, "price"),
                stopPrice: try stopPrice.map { a throws(BinanceError) in try Wire.amount(a, "stopPrice") }.flatMap { $0.isZero ? nil : $0 },
                quantity: try Wire.amount(origQty, "origQty"),
                executedQuantity: try Wire.amount(executedQty, "executedQty"),
                time: time ?? transactTime ?? updateTime ?? 0,
                originType: Wire.originType(type)
            )
        }
    }

    struct AlgoOrder: Decodable {
        var algoId: Int64
        var clientAlgoId: String?
        var orderType: String
        var symbol: String
        var side: String
        var quantity: String?
        var algoStatus: String
        var triggerPrice: String?
        var price: String?
        var createTime: Int64?
        var executedQty: String?

        func exchangeOrder() throws(BinanceError) -> ExchangeOrder {
            ExchangeOrder(
                id: .algo(algoId),
                clientOrderID: clientAlgoId,
                symbol: symbol,
                side: try Wire.side(side),
                type: OrderType(orderType),
                status: try Wire.status(algoStatus),
                price: try Wire.amount(price ?? "0", "price"),
                stopPrice: try triggerPrice.map { a throws(BinanceError) in try Wire.amount(a, "triggerPrice") },
                quantity: try Wire.amount(quantity ?? "0", "quantity"),
                executedQuantity: try Wire.amount(executedQty ?? "0", "executedQty"),
                time: createTime ?? 0,
                // The origin stores an algo order under its plain algoId.
                aliases: [.regular(algoId)],
                originType: Wire.originType(orderType)
            )
        }
    }

    struct AlgoCancel: Decodable {
        var algoId: Int64
        var code: String?
    }

    struct ErrorBody: Decodable {
        var code: Int
        var msg: String
    }

    struct ServerTime: Decodable { var serverTime: Int64 }

    struct ExchangeInfo: Decodable {
        struct RateLimit: Decodable {
            var rateLimitType: String
            var interval: String
            var intervalNum: Int
            var limit: Int
        }
        var rateLimits: [RateLimit]
    }

    /// An item of a batch cancel: an order, or `{code, msg}`.
    enum BatchItem: Decodable {
        case order(Order)
        case error(ErrorBody)
        init(from decoder: any Decoder) throws {
            if let order = try? Order(from: decoder) { self = .order(order) } else { self = .error(try ErrorBody(from: decoder)) }
        }
    }

    static func amount(_ text: String, _ field: String) throws(BinanceError) -> Amount {
        guard let value = Amount(text) else { throw BinanceError(.decoding, "\(field) \"\(text.prefix(40))\" is not a decimal") }
        return value
    }
    static func side(_ text: String) throws(BinanceError) -> Side {
        guard let side = Side(rawValue: text) else { throw BinanceError(.decoding, "side \"\(text.prefix(20))\"") }
        return side
    }
    /// The origin's name for a Binance type, when it differs: it sends its STOP_LIMIT as futures
    /// `STOP` / spot `STOP_LOSS_LIMIT`, its STOP_MARKET as spot `STOP_LOSS`.
    static func originType(_ type: String) -> OrderType? {
        switch type {
        case "STOP", "STOP_LOSS_LIMIT": return .stopLimit
        case "STOP_LOSS": return .stopMarket
        default: return nil
        }
    }

    /// Binance's order statuses (spot, futures, and the futures Algo service's `algoStatus`), by phase.
    static func status(_ text: String) throws(BinanceError) -> ExchangeOrderStatus {
        let phase: ExchangeOrderStatus.Phase
        switch text {
        // PENDING_NEW: a pending leg of an order list; PENDING_CANCEL: documented as unused;
        // TRIGGERING: the Algo service is evaluating the trigger. All still open.
        case "NEW", "PENDING_NEW", "PENDING_CANCEL", "TRIGGERING": phase = .open
        case "PARTIALLY_FILLED": phase = .partiallyFilled
        // FINISHED: the Algo order's triggered order is done.
        case "FILLED", "FINISHED": phase = .filled
        case "CANCELED": phase = .cancelled
        // EXPIRED_IN_MATCH: expired by self-trade prevention.
        case "EXPIRED", "EXPIRED_IN_MATCH": phase = .expired
        case "REJECTED": phase = .rejected
        case "TRIGGERED": phase = .triggered
        default: throw BinanceError(.decoding, "status \"\(text.prefix(30))\"")
        }
        return ExchangeOrderStatus(phase, venueText: text)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ endpoint: String) throws(BinanceError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw BinanceError(.decoding, "\(endpoint): unreadable response (\(bytes.count) bytes)")
        }
    }
}
