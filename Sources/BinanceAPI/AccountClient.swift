import FlatJSON
import OriginKeys
import SyncCore

/// How a cancel ended. Every case but `.failed` carries the exchange's word.
public enum CancelOutcome: Sendable, Hashable {
    /// The order is CANCELED (by this request, or — after an unknown outcome — as the query showed).
    case cancelled(ExchangeOrder)
    /// The order was already final (filled, cancelled elsewhere, expired, rejected): the query's answer.
    case alreadyFinal(ExchangeOrder)
    /// The exchange does not know the order.
    case notFound
    /// Nothing is known for sure (the typed error says why).
    case failed(BinanceError)

    /// The order's final state, when the exchange gave it.
    public var finalOrder: ExchangeOrder? {
        switch self {
        case .cancelled(let o), .alreadyFinal(let o): return o
        default: return nil
        }
    }
}

/// How to name an order in a query.
public enum OrderLookup: Sendable, Hashable {
    /// By `orderId`, or `algo:<algoId>` for an algo order.
    case id(ExchangeOrderID)
    /// By client order id (`clientAlgoId` when `algo`).
    case client(String, algo: Bool)
}

/// One account's operations. Cancels always name orders; there is no account- or symbol-wide cancel.
public struct AccountClient: Sendable {
    let session: BinanceSession
    let credentials: Credentials

    // MARK: Reads

    /// The account's open orders in a market (one symbol, or all). On futures the Algo service's
    /// conditional orders are merged in (ids `algo:<algoId>`). Never throws: the coverage says
    /// what was fetched (partial when one of the two futures listings failed).
    /// The request weight of one `openOrders(market, symbol:)` (futures: regular and algo together).
    public static func listingWeight(_ market: Market, bySymbol: Bool) -> Int {
        switch market {
        case .spot: return bySymbol ? 6 : 80
        case .futures: return bySymbol ? 1 + 1 : 40 + 40
        }
    }

    public func openOrders(_ market: Market, symbol: String? = nil) async -> ExchangeListing {
        let scope: ListingScope = symbol.map { .symbols([$0]) } ?? .allSymbols
        let params: [(String, String)] = symbol.map { [("symbol", $0)] } ?? []
        if market == .spot {
            do {
                let orders = try await regularOrders(.spot, params, weight: Self.listingWeight(.spot, bySymbol: symbol != nil))
                return ExchangeListing(coverage: .complete, scope: scope, orders: orders)
            } catch {
                return ExchangeListing(coverage: .failed(reason: error.description), scope: scope, orders: [])
            }
        }
        async let regular = result { () async throws(BinanceError) in
            try await regularOrders(.futures, params, weight: Self.listingWeight(.futures, bySymbol: symbol != nil) / 2)
        }
        async let algo = result { () async throws(BinanceError) in
            try await algoOrders(params, weight: Self.listingWeight(.futures, bySymbol: symbol != nil) / 2)
        }
        switch (await regular, await algo) {
        case (.success(let r), .success(let a)):
            return ExchangeListing(coverage: .complete, scope: scope, orders: r + a)
        case (.success(let r), .failure(let e)):
            return ExchangeListing(coverage: .partial(reason: "algo orders: \(e)"), scope: scope, orders: r)
        case (.failure(let e), .success(let a)):
            return ExchangeListing(coverage: .partial(reason: "regular orders: \(e)"), scope: scope, orders: a)
        case (.failure(let e), .failure):
            return ExchangeListing(coverage: .failed(reason: e.description), scope: scope, orders: [])
        }
    }

    /// A read, decoded; an unreadable body (truncated, garbled) is read again, within the
    /// session's attempt budget.
    private func read<T: Decodable>(_ type: T.Type, _ call: BinanceSession.Call) async throws(BinanceError) -> T {
        try await read(call) { body, endpoint throws(BinanceError) in try Wire.decode(type, body, endpoint) }
    }

    /// A list read through the fast flat reader (falling back to `JSONDecoder`).
    private func readList<T: FlatDecodable>(_ type: T.Type, _ call: BinanceSession.Call) async throws(BinanceError) -> [T] {
        try await read(call) { body, endpoint throws(BinanceError) in try Wire.decodeList(type, body, endpoint) }
    }

    private func read<T>(_ call: BinanceSession.Call, decode: ([UInt8], String) throws(BinanceError) -> T) async throws(BinanceError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            let body = try await session.perform(call, credentials: credentials)
            do {
                return try decode(body, call.endpoint)
            } catch  where attempt < session.configuration.maxAttempts {
                continue
            }
        }
    }

    private func result<T: Sendable>(_ body: () async throws(BinanceError) -> T) async -> Result<T, BinanceError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    private func regularOrders(_ market: Market, _ params: [(String, String)], weight: Int) async throws(BinanceError) -> [ExchangeOrder] {
        let path = market == .spot ? "/api/v3/openOrders" : "/fapi/v1/openOrders"
        return try await readList(Wire.Order.self, .init(market: market, method: "GET", path: path, params: params, weight: weight, idempotent: true))
            .map { o throws(BinanceError) in try o.exchangeOrder() }
    }

    private func algoOrders(_ params: [(String, String)], weight: Int) async throws(BinanceError) -> [ExchangeOrder] {
        try await readList(
            Wire.AlgoOrder.self,
            .init(market: .futures, method: "GET", path: "/fapi/v1/openAlgoOrders", params: params, weight: weight, idempotent: true)
        )
        .map { o throws(BinanceError) in try o.exchangeOrder() }
    }

    /// One order, open or final. Throws `.notFound` when the exchange does not know it. `urgent`:
    /// part of a cancel (settling its outcome), planned against the cancels' weight ceiling.
    public func order(_ market: Market, symbol: String, _ lookup: OrderLookup, urgent: Bool = false) async throws(BinanceError) -> ExchangeOrder {
        let algoParams: [(String, String)]?
        switch lookup {
        case .id(let id) where id.isAlgo: algoParams = [("algoId", String(id.venueID))]
        case .client(let client, algo: true): algoParams = [("clientAlgoId", client)]
        default: algoParams = nil
        }
        if let algoParams {
            return try await read(
                Wire.AlgoOrder.self,
                .init(market: .futures, method: "GET", path: "/fapi/v1/algoOrder", params: algoParams, weight: 1, idempotent: true, urgent: urgent)
            )
            .exchangeOrder()
        }
        let path = market == .spot ? "/api/v3/order" : "/fapi/v1/order"
        var params = [("symbol", symbol)]
        switch lookup {
        case .id(let id): params.append(("orderId", id.rawValue))
        case .client(let client, _): params.append(("origClientOrderId", client))
        }
        return try await read(
            Wire.Order.self,
            .init(market: market, method: "GET", path: path, params: params, weight: market == .spot ? 4 : 1, idempotent: true, urgent: urgent)
        )
        .exchangeOrder()
    }

    /// The exchange's clock.
    public func serverTime(_ market: Market) async throws(BinanceError) -> Millis {
        try await session.publicGet(Wire.ServerTime.self, market: market, path: market == .spot ? "/api/v3/time" : "/fapi/v1/time").serverTime
    }

    // MARK: Cancels

    /// Cancels one order by id. Unknown outcomes and -2011 are settled by querying the order.
    public func cancel(_ market: Market, symbol: String, _ id: ExchangeOrderID) async -> CancelOutcome {
        for _ in 0..<2 {
            do {
                return .cancelled(try await sendCancel(market, symbol: symbol, id))
            } catch let error where error.code == -2011 || error.kind == .notFound {
                // Not cancellable: it is final, or unknown. Ask.
                return await settle(market, symbol: symbol, id, afterUnknown: false)
            } catch let error where error.kind == .unknownOutcome || error.kind == .decoding {
                let settled = await settle(market, symbol: symbol, id, afterUnknown: true)
                if case .failed(let e) = settled, e.kind == .rejected, e.code == nil { continue }  // still open: try again
                return settled
            } catch {
                return .failed(error)
            }
        }
        return .failed(BinanceError(.unknownOutcome, "order \(id) still open after repeated cancels"))
    }

    private func sendCancel(_ market: Market, symbol: String, _ id: ExchangeOrderID) async throws(BinanceError) -> ExchangeOrder {
        if id.isAlgo {
            _ = try await session.perform(
                .init(
                    market: .futures,
                    method: "DELETE",
                    path: "/fapi/v1/algoOrder",
                    params: [("algoId", String(id.venueID))],
                    weight: 1,
                    idempotent: false
                ),
                credentials: credentials
            )
            // The answer holds no order: read its state.
            let order = try await order(.futures, symbol: symbol, .id(id))
            return order
        }
        let path = market == .spot ? "/api/v3/order" : "/fapi/v1/order"
        let body = try await session.perform(
            .init(
                market: market,
                method: "DELETE",
                path: path,
                params: [("symbol", symbol), ("orderId", id.rawValue)],
                weight: 1,
                idempotent: false
            ),
            credentials: credentials
        )
        return try Wire.decode(Wire.Order.self, body, "DELETE \(path)").exchangeOrder(cancelResponse: true)
    }

    /// The order's real state after a -2011 or an unknown outcome. An order still open is reported
    /// as `.failed(rejected without code)` so `cancel` can try again.
    func settle(_ market: Market, symbol: String, _ id: ExchangeOrderID, afterUnknown: Bool) async -> CancelOutcome {
        do {
            let order = try await order(market, symbol: symbol, .id(id), urgent: true)
            if order.status == .canceled && afterUnknown { return .cancelled(order) }
            if !order.status.isOpen { return .alreadyFinal(order) }
            return .failed(BinanceError(.rejected, "order \(id) is still \(order.status.venueText)"))
        } catch let error where error.kind == .notFound {
            return .notFound
        } catch {
            return .failed(BinanceError(.unknownOutcome, "order \(id): cancel outcome unknown and the query failed (\(error))"))
        }
    }

    /// Binance's `batchOrders` limit.
    public static let futuresBatchLimit = 10

    /// Cancels up to ten regular futures orders of one symbol in one `DELETE /fapi/v1/batchOrders`
    /// (one order: a single cancel). Items answered with an error are settled by querying them;
    /// when the whole answer is lost, every order is settled. One outcome per id, in the order given.
    public func cancelBatch(symbol: String, _ ids: [ExchangeOrderID]) async -> [(ExchangeOrderID, CancelOutcome)] {
        if ids.count == 1 { return [(ids[0], await cancel(.futures, symbol: symbol, ids[0]))] }
        guard ids.count <= Self.futuresBatchLimit, !ids.contains(where: \.isAlgo) else {
            return ids.map { ($0, .failed(BinanceError(.rejected, "a batch cancel takes at most \(Self.futuresBatchLimit) regular futures orders"))) }
        }
        let list = "[" + ids.map(\.rawValue).joined(separator: ",") + "]"
        do {
            let body = try await session.perform(
                .init(
                    market: .futures,
                    method: "DELETE",
                    path: "/fapi/v1/batchOrders",
                    params: [("symbol", symbol), ("orderIdList", list)],
                    weight: 1,
                    idempotent: false
                ),
                credentials: credentials
            )
            let items = try Wire.decodeList(Wire.BatchItem.self, body, "DELETE /fapi/v1/batchOrders")
            var byID: [ExchangeOrderID: ExchangeOrder] = [:]
            for case .order(let o) in items { if let order = try? o.exchangeOrder() { byID[order.id] = order } }
            // Items are matched by the order they carry; ids answered with an error are settled, at once.
            let settled = await settleAll(symbol: symbol, ids.filter { byID[$0] == nil }, afterUnknown: false)
            return ids.map { id in
                guard let order = byID[id] else { return (id, settled[id] ?? .failed(BinanceError(.unknownOutcome, "no outcome"))) }
                return (id, order.status == .canceled ? .cancelled(order) : .alreadyFinal(order))
            }
        } catch let error where error.kind == .unknownOutcome || error.kind == .decoding {
            // The batch may or may not have been applied: settle each order (and cancel the open ones).
            let settled = await settleAll(symbol: symbol, ids, afterUnknown: true)
            return ids.map { ($0, settled[$0] ?? .failed(BinanceError(.unknownOutcome, "no outcome"))) }
        } catch {
            return ids.map { ($0, .failed(error)) }
        }
    }
}

extension BinanceSession {
    /// What Binance allows in one account's cancel requests: on USDⓈ-M futures `batchOrders` of at
    /// most ten regular orders of one symbol (algo orders one by one); on spot one order a request,
    /// `spotCancelParallelism` at a time. The canceller plans by this (`CancelSelection.plan`).
    public func cancelLimits(_ market: Market) -> CancelLimits {
        AccountClient.cancelLimits(market, spotParallelism: configuration.spotCancelParallelism)
    }
}

extension AccountClient {
    /// Binance's cancel limits with `spotParallelism` spot cancels at a time (see `BinanceSession.cancelLimits`).
    public static func cancelLimits(_ market: Market, spotParallelism: Int) -> CancelLimits {
        switch market {
        case .futures: return CancelLimits(batchSize: futuresBatchLimit, batchPerSymbol: true, batchesConditional: false, concurrency: 64)
        case .spot: return CancelLimits(batchSize: 1, concurrency: max(1, spotParallelism))
        }
    }
}

extension AccountClient {
    /// Settles futures orders concurrently (a query each; an order still open is cancelled singly).
    func settleAll(symbol: String, _ ids: [ExchangeOrderID], afterUnknown: Bool) async -> [ExchangeOrderID: CancelOutcome] {
        await withTaskGroup(of: (ExchangeOrderID, CancelOutcome).self) { group in
            for id in ids {
                group.addTask {
                    (
                        id,
                        await settle(.futures, symbol: symbol, id, afterUnknown: afterUnknown).retryIfOpen {
                            await cancel(.futures, symbol: symbol, id)
                        }
                    )
                }
            }
            var out: [ExchangeOrderID: CancelOutcome] = [:]
            for await (id, outcome) in group { out[id] = outcome }
            return out
        }
    }
}

extension CancelOutcome {
    /// When settling found the order still open, cancel it (singly) instead.
    func retryIfOpen(_ again: () async -> CancelOutcome) async -> CancelOutcome {
        if case .failed(let e) = self, e.kind == .rejected, e.code == nil { return await again() }
        return self
    }
}
