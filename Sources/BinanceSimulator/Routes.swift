import SimulatorSupport
import SyncCore

/// The REST endpoints, their products, weights and handlers (weights as the real exchange's).
enum Routes {
    static func symbolWeight(_ with: Int, _ without: Int) -> @Sendable (Params) -> Int {
        { $0["symbol"] == nil ? without : with }
    }

    static func side(_ p: Params) throws(APIError) -> Side {
        let text = try p.require("side")
        guard let side = Side(rawValue: text) else { throw APIError.invalidEnum("Invalid side.") }
        return side
    }

    static func newOrder(_ p: Params, clientKey: String = "newClientOrderId", stopKey: String = "stopPrice") throws(APIError) -> NewOrder {
        let symbol = try p.require("symbol")
        let side = try side(p)
        let type = try p.require("type")
        let trigger = try p.amount(stopKey)
        let stop = try p.amount("stopPrice")
        var order = NewOrder(
            symbol: symbol,
            side: side,
            type: type,
            timeInForce: p["timeInForce"],
            quantity: try p.amount("quantity"),
            price: try p.amount("price"),
            stopPrice: trigger ?? stop,
            clientOrderID: p[clientKey]
        )
        order.reduceOnly = p["reduceOnly"]?.lowercased() == "true"
        order.positionSide = p["positionSide"]?.uppercased() ?? "BOTH"
        return order
    }

    /// `orderId` / `origClientOrderId`, one of them mandatory.
    static func ref(_ p: Params, id: String = "orderId", client: String = "origClientOrderId") throws(APIError) -> OrderRef {
        if let value = try p.int64(id) { return .id(value) }
        if let value = p[client] { return .client(value) }
        throw APIError.eitherParam(client, id)
    }

    static func spec(_ exchange: Exchange, _ symbol: String) async throws(APIError) -> SymbolSpec {
        guard let spec = await exchange.symbolSpecs.first(where: { $0.symbol == symbol }) else { throw APIError.invalidSymbol }
        return spec
    }

    /// A JSON list parameter of batchOrders (`[1,2]` or `["a","b"]`), at most ten items.
    static func list(_ text: String, name: String) throws(APIError) -> [String] {
        let trimmed = text.trimmed(" ")
        guard trimmed.hasPrefix("["), trimmed.hasSuffix("]") else { throw APIError.invalidParam(name) }
        let inner = String(trimmed.dropFirst().dropLast())
        guard !inner.isEmpty else { throw APIError.invalidParam(name) }
        let items = inner.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmed(" ") }
        guard items.count <= 10 else { throw APIError.invalidParam(name) }
        return try items.map { item throws(APIError) -> String in
            if item.hasPrefix("\""), item.hasSuffix("\""), item.count >= 2 { return String(item.dropFirst().dropLast()) }
            guard !item.isEmpty, Int64(item) != nil else { throw APIError.invalidParam(name) }
            return item
        }
    }

    static let table: [String: Endpoint] = {
        var t: [String: Endpoint] = [:]
        func add(
            _ method: String,
            _ path: String,
            _ product: Product,
            signed: Bool,
            weight: @escaping @Sendable (Params) -> Int,
            placesOrder: Bool = false,
            _ handler: @escaping @Sendable (Exchange, Call) async throws(APIError) -> JSON
        ) {
            t["\(method) \(path)"] = Endpoint(product: product, signed: signed, weight: weight, handler: handler, placesOrder: placesOrder)
        }
        for (product, base) in [(Product.spot, "/api/v3"), (.futures, "/fapi/v1")] {
            add("GET", base + "/ping", product, signed: false, weight: { _ in 1 }) { _, _ in .object([]) }
            add("GET", base + "/time", product, signed: false, weight: { _ in 1 }) { ex, _ in .object([("serverTime", .int(await ex.now()))]) }
            add("GET", base + "/exchangeInfo", product, signed: false, weight: { _ in product == .spot ? 20 : 1 }) { ex, _ in
                Wire.exchangeInfo(await ex.symbolSpecs, limits: await ex.configuration.limits, product: product, now: await ex.now())
            }
        }

        // Spot.
        add("GET", "/api/v3/openOrders", .spot, signed: true, weight: symbolWeight(6, 80)) { ex, c throws(APIError) in
            .array(try await ex.openOrders(symbol: c.params["symbol"], product: .spot, key: c.apiKey).map(Wire.spotOrder))
        }
        add("GET", "/api/v3/order", .spot, signed: true, weight: { _ in 4 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            return Wire.spotOrder(try await ex.query(try ref(c.params), symbol: symbol, product: .spot, key: c.apiKey))
        }
        add("POST", "/api/v3/order", .spot, signed: true, weight: { _ in 1 }, placesOrder: true) { ex, c throws(APIError) in
            let request = try newOrder(c.params)
            let order = try await ex.place(request, product: .spot, key: c.apiKey)
            let type = request.type.uppercased()
            let respType = c.params["newOrderRespType"]?.uppercased() ?? (type == "MARKET" || type == "LIMIT" ? "FULL" : "ACK")
            guard ["ACK", "RESULT", "FULL"].contains(respType) else { throw APIError.invalidEnum("Invalid newOrderRespType.") }
            return Wire.spotNewOrder(order, respType: respType)
        }
        add("DELETE", "/api/v3/order", .spot, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            let order = try await ex.cancel(try ref(c.params), symbol: symbol, product: .spot, key: c.apiKey)
            let cancelID: String
            if let given = c.params["newClientOrderId"] { cancelID = given } else { cancelID = await ex.generatedClientID() }
            return Wire.spotCancel(order, cancelClientID: cancelID)
        }
        add("DELETE", "/api/v3/openOrders", .spot, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            let cancelled = try await ex.cancelAll(symbol: symbol, product: .spot, key: c.apiKey, endpoint: "DELETE /api/v3/openOrders")
            guard !cancelled.isEmpty else { throw APIError.unknownOrder }
            var out: [JSON] = []
            for order in cancelled { out.append(Wire.spotCancel(order, cancelClientID: await ex.generatedClientID())) }
            return .array(out)
        }

        // USDⓈ-M futures.
        add("GET", "/fapi/v1/openOrders", .futures, signed: true, weight: symbolWeight(1, 40)) { ex, c throws(APIError) in
            let orders = try await ex.openOrders(symbol: c.params["symbol"], product: .futures, key: c.apiKey)
            var out: [JSON] = []
            for o in orders { out.append(Wire.futuresOrder(o, try await spec(ex, o.symbol))) }
            return .array(out)
        }
        add("GET", "/fapi/v1/order", .futures, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            let order = try await ex.query(try ref(c.params), symbol: symbol, product: .futures, key: c.apiKey)
            return Wire.futuresOrder(order, try await spec(ex, symbol))
        }
        add("POST", "/fapi/v1/order", .futures, signed: true, weight: { _ in 0 }, placesOrder: true) { ex, c throws(APIError) in
            let order = try await ex.place(try newOrder(c.params), product: .futures, key: c.apiKey)
            return Wire.futuresResult(order, try await spec(ex, order.symbol))
        }
        add("DELETE", "/fapi/v1/order", .futures, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            let order = try await ex.cancel(try ref(c.params), symbol: symbol, product: .futures, key: c.apiKey)
            return Wire.futuresResult(order, try await spec(ex, symbol))
        }
        add("DELETE", "/fapi/v1/batchOrders", .futures, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            let spec = try await spec(ex, symbol)
            let ids = c.params["orderIdList"]
            let clients = c.params["origClientOrderIdList"]
            let refs: [OrderRef]
            switch (ids, clients) {
            case (let ids?, nil): refs = try list(ids, name: "orderIdList").map { .id(Int64($0) ?? -1) }
            case (nil, let clients?): refs = try list(clients, name: "origClientOrderIdList").map { .client($0) }
            case (nil, nil): throw APIError.eitherParam("orderIdList", "origClientOrderIdList")
            default: throw APIError.invalidParam("orderIdList")
            }
            var out: [JSON] = []
            for r in refs {
                do throws(APIError) {
                    out.append(Wire.futuresResult(try await ex.cancel(r, symbol: symbol, product: .futures, key: c.apiKey), spec))
                } catch {
                    out.append(Wire.error(error))
                }
            }
            return .array(out)
        }
        add("DELETE", "/fapi/v1/allOpenOrders", .futures, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            _ = try await ex.cancelAll(symbol: symbol, product: .futures, key: c.apiKey, endpoint: "DELETE /fapi/v1/allOpenOrders")
            return .object([("code", .int(200)), ("msg", .string("The operation of cancel all open order is done."))])
        }

        // Futures Algo service (conditional orders).
        add("POST", "/fapi/v1/algoOrder", .futures, signed: true, weight: { _ in 0 }, placesOrder: true) { ex, c throws(APIError) in
            guard try c.params.require("algoType").uppercased() == "CONDITIONAL" else { throw APIError.invalidEnum("Invalid algoType.") }
            let order = try await ex.placeAlgo(try newOrder(c.params, clientKey: "clientAlgoId", stopKey: "triggerPrice"), key: c.apiKey)
            return Wire.algoOrder(order, try await spec(ex, order.symbol))
        }
        add("GET", "/fapi/v1/openAlgoOrders", .futures, signed: true, weight: symbolWeight(1, 40)) { ex, c throws(APIError) in
            let orders = try await ex.openOrders(symbol: c.params["symbol"], product: .futures, key: c.apiKey, algo: true)
            var out: [JSON] = []
            for o in orders { out.append(Wire.algoOrder(o, try await spec(ex, o.symbol))) }
            return .array(out)
        }
        add("GET", "/fapi/v1/algoOrder", .futures, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let order = try await ex.query(
                try ref(c.params, id: "algoId", client: "clientAlgoId"),
                symbol: "",
                product: .futures,
                key: c.apiKey,
                algo: true
            )
            return Wire.algoOrder(order, try await spec(ex, order.symbol))
        }
        add("DELETE", "/fapi/v1/algoOrder", .futures, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let order = try await ex.cancel(
                try ref(c.params, id: "algoId", client: "clientAlgoId"),
                symbol: "",
                product: .futures,
                key: c.apiKey,
                algo: true
            )
            return .object([
                ("algoId", .int(order.id)), ("clientAlgoId", .string(order.clientOrderID)), ("code", .string("200")), ("msg", .string("success")),
            ])
        }
        add("DELETE", "/fapi/v1/algoOpenOrders", .futures, signed: true, weight: { _ in 1 }) { ex, c throws(APIError) in
            let symbol = try c.params.require("symbol")
            await ex.countWideCancel("DELETE /fapi/v1/algoOpenOrders")
            for o in try await ex.openOrders(symbol: symbol, product: .futures, key: c.apiKey, algo: true) {
                _ = try? await ex.cancel(.id(o.id), symbol: symbol, product: .futures, key: c.apiKey, algo: true)
            }
            return .object([("code", .int(200)), ("msg", .string("The operation of cancel all open order is done."))])
        }
        return t
    }()
}

extension String {
    func trimmed(_ set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
