import SimulatorSupport
import SyncCore

/// Builds response bodies in the official shapes (decimals as strings).
enum Wire {
    static func error(_ e: APIError) -> JSON { .object([("code", .int(Int64(e.code))), ("msg", .string(e.msg))]) }

    static func decimal(_ a: Amount, _ decimals: Int) -> JSON { .string(a.padded(decimals: decimals)) }
    static func quote(_ d: Double, _ decimals: Int) -> JSON {
        // cummulativeQuoteQty is informational (price × quantity); printed at fixed decimals.
        let scale = pow10(decimals)
        let rounded = (d * scale).rounded() / scale
        return .string(Amount(rounded)?.padded(decimals: decimals) ?? "0")
    }
    static func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { r, _ in r * 10 } }

    // Spot: 8 decimals everywhere, as api.binance.com prints.
    static func spotOrder(_ o: SimOrder) -> JSON {
        .object([
            ("symbol", .string(o.symbol)), ("orderId", .int(o.id)), ("orderListId", .int(-1)),
            ("clientOrderId", .string(o.clientOrderID)), ("price", decimal(o.price, 8)), ("origQty", decimal(o.quantity, 8)),
            ("executedQty", decimal(o.executed, 8)), ("cummulativeQuoteQty", quote(o.cumQuote, 8)),
            ("status", .string(o.status.rawValue)), ("timeInForce", .string(o.timeInForce)), ("type", .string(o.type)),
            ("side", .string(o.side.rawValue)), ("stopPrice", decimal(o.stopPrice, 8)), ("icebergQty", decimal(.zero, 8)),
            ("time", .int(o.time)), ("updateTime", .int(o.updateTime)), ("isWorking", .bool(!o.type.contains("STOP") && !o.type.hasPrefix("TAKE"))),
            ("workingTime", .int(o.time)), ("origQuoteOrderQty", decimal(.zero, 6)), ("selfTradePreventionMode", .string("NONE")),
        ])
    }

    /// `POST /api/v3/order` in the requested response type (ACK, RESULT or FULL).
    static func spotNewOrder(_ o: SimOrder, respType: String) -> JSON {
        var fields: [(String, JSON)] = [
            ("symbol", .string(o.symbol)), ("orderId", .int(o.id)), ("orderListId", .int(-1)),
            ("clientOrderId", .string(o.clientOrderID)), ("transactTime", .int(o.time)),
        ]
        guard respType != "ACK" else { return .object(fields) }
        fields += [
            ("price", decimal(o.price, 8)), ("origQty", decimal(o.quantity, 8)), ("executedQty", decimal(o.executed, 8)),
            ("origQuoteOrderQty", decimal(.zero, 6)), ("cummulativeQuoteQty", quote(o.cumQuote, 8)),
            ("status", .string(o.status.rawValue)), ("timeInForce", .string(o.timeInForce)), ("type", .string(o.type)),
            ("side", .string(o.side.rawValue)), ("workingTime", .int(o.time)), ("selfTradePreventionMode", .string("NONE")),
        ]
        if respType == "FULL" {
            var fills: [JSON] = []
            if !o.executed.isZero {
                let price = o.executed.isZero ? 0 : o.cumQuote / o.executed.doubleValue
                fills.append(
                    .object([
                        ("price", .string(Amount(price)?.padded(decimals: 8) ?? "0")), ("qty", decimal(o.executed, 8)),
                        ("commission", decimal(.zero, 8)), ("commissionAsset", .string("BNB")), ("tradeId", .int(o.id)),
                    ])
                )
            }
            fields.append(("fills", .array(fills)))
        }
        return .object(fields)
    }

    static func spotCancel(_ o: SimOrder, cancelClientID: String) -> JSON {
        .object([
            ("symbol", .string(o.symbol)), ("origClientOrderId", .string(o.clientOrderID)), ("orderId", .int(o.id)),
            ("orderListId", .int(-1)), ("clientOrderId", .string(cancelClientID)), ("transactTime", .int(o.updateTime)),
            ("price", decimal(o.price, 8)), ("origQty", decimal(o.quantity, 8)), ("executedQty", decimal(o.executed, 8)),
            ("origQuoteOrderQty", decimal(.zero, 6)), ("cummulativeQuoteQty", quote(o.cumQuote, 8)),
            ("status", .string(o.status.rawValue)), ("timeInForce", .string(o.timeInForce)), ("type", .string(o.type)),
            ("side", .string(o.side.rawValue)), ("selfTradePreventionMode", .string("NONE")),
        ])
    }

    static func avgPrice(_ o: SimOrder, _ spec: SymbolSpec) -> JSON {
        let avg = o.executed.isZero ? 0 : o.cumQuote / o.executed.doubleValue
        return quote(avg, max(spec.pricePrecision, 2))
    }

    /// A futures order as `GET /fapi/v1/order` and `openOrders` return it.
    static func futuresOrder(_ o: SimOrder, _ spec: SymbolSpec) -> JSON {
        .object([
            ("avgPrice", avgPrice(o, spec)), ("clientOrderId", .string(o.clientOrderID)),
            ("cumQuote", quote(o.cumQuote, spec.pricePrecision)), ("executedQty", decimal(o.executed, spec.quantityPrecision)),
            ("orderId", .int(o.id)), ("origQty", decimal(o.quantity, spec.quantityPrecision)), ("origType", .string(o.type)),
            ("price", decimal(o.price, spec.pricePrecision)), ("reduceOnly", .bool(o.reduceOnly)), ("side", .string(o.side.rawValue)),
            ("positionSide", .string(o.positionSide)), ("status", .string(o.status.rawValue)),
            ("stopPrice", decimal(o.stopPrice, spec.pricePrecision)), ("closePosition", .bool(false)), ("symbol", .string(o.symbol)),
            ("time", .int(o.time)), ("timeInForce", .string(o.timeInForce)), ("type", .string(o.type)),
            ("updateTime", .int(o.updateTime)), ("workingType", .string("CONTRACT_PRICE")), ("priceProtect", .bool(false)),
            ("priceMatch", .string("NONE")), ("selfTradePreventionMode", .string("NONE")), ("goodTillDate", .int(0)),
        ])
    }

    /// A futures order as `POST /fapi/v1/order`, `DELETE /fapi/v1/order` and `batchOrders` return it.
    static func futuresResult(_ o: SimOrder, _ spec: SymbolSpec) -> JSON {
        .object([
            ("clientOrderId", .string(o.clientOrderID)), ("cumQty", decimal(o.executed, spec.quantityPrecision)),
            ("cumQuote", quote(o.cumQuote, spec.pricePrecision)), ("executedQty", decimal(o.executed, spec.quantityPrecision)),
            ("orderId", .int(o.id)), ("avgPrice", avgPrice(o, spec)), ("origQty", decimal(o.quantity, spec.quantityPrecision)),
            ("price", decimal(o.price, spec.pricePrecision)), ("reduceOnly", .bool(o.reduceOnly)), ("side", .string(o.side.rawValue)),
            ("positionSide", .string(o.positionSide)), ("status", .string(o.status.rawValue)),
            ("stopPrice", decimal(o.stopPrice, spec.pricePrecision)), ("closePosition", .bool(false)), ("symbol", .string(o.symbol)),
            ("timeInForce", .string(o.timeInForce)), ("type", .string(o.type)), ("origType", .string(o.type)),
            ("updateTime", .int(o.updateTime)), ("workingType", .string("CONTRACT_PRICE")), ("priceProtect", .bool(false)),
            ("priceMatch", .string("NONE")), ("selfTradePreventionMode", .string("NONE")), ("goodTillDate", .int(0)),
        ])
    }

    /// An algo (conditional) order as the Algo service returns it.
    static func algoOrder(_ o: SimOrder, _ spec: SymbolSpec) -> JSON {
        let algoStatus: String
        switch o.status {
        case .filled, .finished: algoStatus = "FINISHED"
        case .partiallyFilled: algoStatus = "TRIGGERED"
        default: algoStatus = o.status.rawValue
        }
        return .object([
            ("algoId", .int(o.id)), ("clientAlgoId", .string(o.clientOrderID)), ("algoType", .string("CONDITIONAL")),
            ("orderType", .string(o.type)), ("symbol", .string(o.symbol)), ("side", .string(o.side.rawValue)),
            ("positionSide", .string(o.positionSide)), ("timeInForce", .string(o.timeInForce)),
            ("quantity", decimal(o.quantity, spec.quantityPrecision)), ("algoStatus", .string(algoStatus)),
            ("actualOrderId", .string("")), ("actualPrice", decimal(.zero, 5)),
            ("triggerPrice", decimal(o.stopPrice, spec.pricePrecision)), ("price", decimal(o.price, spec.pricePrecision)),
            ("icebergQuantity", .null), ("tpTriggerPrice", decimal(.zero, 3)), ("tpPrice", decimal(.zero, 3)),
            ("slTriggerPrice", decimal(.zero, 3)), ("slPrice", decimal(.zero, 3)), ("tpOrderType", .string("")),
            ("selfTradePreventionMode", .string("EXPIRE_MAKER")), ("workingType", .string("CONTRACT_PRICE")),
            ("priceMatch", .string("NONE")), ("closePosition", .bool(false)), ("priceProtect", .bool(false)),
            ("reduceOnly", .bool(o.reduceOnly)), ("createTime", .int(o.time)), ("updateTime", .int(o.updateTime)),
            ("triggerTime", .int(0)), ("goodTillDate", .int(0)),
        ])
    }

    static func rateLimits(_ limits: RateLimits, product: Product) -> JSON {
        let interval = limits.windowSeconds % 60 == 0 ? "MINUTE" : "SECOND"
        let num = limits.windowSeconds % 60 == 0 ? limits.windowSeconds / 60 : limits.windowSeconds
        if product == .spot {
            return .array([
                .object([
                    ("rateLimitType", .string("REQUEST_WEIGHT")), ("interval", .string(interval)), ("intervalNum", .int(Int64(num))),
                    ("limit", .int(Int64(limits.spotWeight))),
                ]),
                .object([("rateLimitType", .string("ORDERS")), ("interval", .string("SECOND")), ("intervalNum", .int(10)), ("limit", .int(50))]),
                .object([("rateLimitType", .string("ORDERS")), ("interval", .string("DAY")), ("intervalNum", .int(1)), ("limit", .int(160000))]),
                .object([
                    ("rateLimitType", .string("RAW_REQUESTS")), ("interval", .string("MINUTE")), ("intervalNum", .int(5)), ("limit", .int(61000)),
                ]),
            ])
        }
        return .array([
            .object([
                ("interval", .string(interval)), ("intervalNum", .int(Int64(num))), ("limit", .int(Int64(limits.futuresWeight))),
                ("rateLimitType", .string("REQUEST_WEIGHT")),
            ]),
            .object([("interval", .string("MINUTE")), ("intervalNum", .int(1)), ("limit", .int(1200)), ("rateLimitType", .string("ORDERS"))]),
            .object([("interval", .string("SECOND")), ("intervalNum", .int(10)), ("limit", .int(300)), ("rateLimitType", .string("ORDERS"))]),
        ])
    }

    static func exchangeInfo(_ specs: [SymbolSpec], limits: RateLimits, product: Product, now: Millis) -> JSON {
        if product == .spot {
            let symbols: [JSON] = specs.map { s in
                .object([
                    ("symbol", .string(s.symbol)), ("status", .string("TRADING")), ("baseAsset", .string(s.baseAsset)),
                    ("baseAssetPrecision", .int(8)), ("quoteAsset", .string(s.quoteAsset)), ("quotePrecision", .int(8)),
                    ("quoteAssetPrecision", .int(8)), ("baseCommissionPrecision", .int(8)), ("quoteCommissionPrecision", .int(8)),
                    (
                        "orderTypes",
                        .array(
                            ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"].map(JSON.string)
                        )
                    ),
                    ("icebergAllowed", .bool(true)), ("ocoAllowed", .bool(false)), ("otoAllowed", .bool(false)), ("opoAllowed", .bool(false)),
                    ("quoteOrderQtyMarketAllowed", .bool(false)), ("allowTrailingStop", .bool(false)), ("cancelReplaceAllowed", .bool(false)),
                    ("amendAllowed", .bool(false)), ("pegInstructionsAllowed", .bool(false)), ("isSpotTradingAllowed", .bool(true)),
                    ("isMarginTradingAllowed", .bool(false)),
                    (
                        "filters",
                        .array([
                            .object([
                                ("filterType", .string("PRICE_FILTER")), ("minPrice", decimal(s.tickSize, 8)),
                                ("maxPrice", decimal(Amount(1_000_000), 8)), ("tickSize", decimal(s.tickSize, 8)),
                            ]),
                            .object([
                                ("filterType", .string("LOT_SIZE")), ("minQty", decimal(s.minQty, 8)), ("maxQty", decimal(s.maxQty, 8)),
                                ("stepSize", decimal(s.stepSize, 8)),
                            ]),
                            .object([
                                ("filterType", .string("NOTIONAL")), ("minNotional", decimal(s.minNotional, 8)), ("applyMinToMarket", .bool(true)),
                                ("maxNotional", decimal(Amount(9_000_000), 8)), ("applyMaxToMarket", .bool(false)), ("avgPriceMins", .int(5)),
                            ]),
                            .object([("filterType", .string("MAX_NUM_ORDERS")), ("maxNumOrders", .int(200))]),
                        ])
                    ),
                    ("permissions", .array([])), ("permissionSets", .array([.array([.string("SPOT")])])),
                    ("defaultSelfTradePreventionMode", .string("NONE")), ("allowedSelfTradePreventionModes", .array([.string("NONE")])),
                ])
            }
            return .object([
                ("timezone", .string("UTC")), ("serverTime", .int(now)), ("rateLimits", rateLimits(limits, product: .spot)),
                ("exchangeFilters", .array([])), ("symbols", .array(symbols)),
            ])
        }
        let symbols: [JSON] = specs.map { s in
            .object([
                ("symbol", .string(s.symbol)), ("pair", .string(s.symbol)), ("contractType", .string("PERPETUAL")),
                ("deliveryDate", .int(4_133_404_800_000)), ("onboardDate", .int(1_569_398_400_000)), ("status", .string("TRADING")),
                ("baseAsset", .string(s.baseAsset)), ("quoteAsset", .string(s.quoteAsset)), ("marginAsset", .string(s.quoteAsset)),
                ("pricePrecision", .int(Int64(s.pricePrecision))), ("quantityPrecision", .int(Int64(s.quantityPrecision))),
                ("baseAssetPrecision", .int(8)), ("quotePrecision", .int(8)), ("underlyingType", .string("COIN")),
                (
                    "filters",
                    .array([
                        .object([
                            ("filterType", .string("PRICE_FILTER")), ("minPrice", .string(s.tickSize.description)), ("maxPrice", .string("1000000")),
                            ("tickSize", .string(s.tickSize.description)),
                        ]),
                        .object([
                            ("filterType", .string("LOT_SIZE")), ("minQty", .string(s.minQty.description)), ("maxQty", .string(s.maxQty.description)),
                            ("stepSize", .string(s.stepSize.description)),
                        ]),
                        .object([
                            ("filterType", .string("MARKET_LOT_SIZE")), ("minQty", .string(s.minQty.description)),
                            ("maxQty", .string(s.maxQty.description)), ("stepSize", .string(s.stepSize.description)),
                        ]),
                        .object([("filterType", .string("MAX_NUM_ORDERS")), ("limit", .int(200))]),
                        .object([("filterType", .string("MAX_NUM_ALGO_ORDERS")), ("limit", .int(10))]),
                        .object([("filterType", .string("MIN_NOTIONAL")), ("notional", .string(s.minNotional.description))]),
                    ])
                ),
                (
                    "orderTypes",
                    .array(["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"].map(JSON.string))
                ),
                ("timeInForce", .array(["GTC", "IOC", "FOK", "GTX", "GTD"].map(JSON.string))),
            ])
        }
        return .object([
            ("timezone", .string("UTC")), ("serverTime", .int(now)), ("futuresType", .string("U_MARGINED")),
            ("rateLimits", rateLimits(limits, product: .futures)), ("exchangeFilters", .array([])), ("assets", .array([])),
            ("symbols", .array(symbols)),
        ])
    }
}
