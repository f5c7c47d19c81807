import FlatJSON

extension Wire.Order: FlatDecodable {
    static let flatKeys = [
        "symbol", "orderId", "clientOrderId", "origClientOrderId", "price", "origQty", "executedQty", "status", "type",
        "side", "stopPrice", "time", "updateTime", "transactTime",
    ]

    init?(flat f: [FlatJSON.Value?]) {
        guard let symbol = f[0].requiredString, let orderId = f[1].requiredInt, let clientOrderId = f[2].optionalString,
            let origClientOrderId = f[3].optionalString, let price = f[4].requiredString, let origQty = f[5].requiredString,
            let executedQty = f[6].requiredString, let status = f[7].requiredString, let type = f[8].requiredString,
            let side = f[9].requiredString, let stopPrice = f[10].optionalString, let time = f[11].optionalInt,
            let updateTime = f[12].optionalInt, let transactTime = f[13].optionalInt
        else { return nil }
        self.init(
            symbol: symbol,
            orderId: orderId,
            clientOrderId: clientOrderId,
            origClientOrderId: origClientOrderId,
            price: price,
            origQty: origQty,
            executedQty: executedQty,
            status: status,
            type: type,
            side: side,
            stopPrice: stopPrice,
            time: time,
            updateTime: updateTime,
            transactTime: transactTime
        )
    }
}

extension Wire.BatchItem: FlatDecodable {
    static let flatKeys = Wire.Order.flatKeys + ["code", "msg"]

    /// As `init(from:)`: an order when the object reads as one, else `{code, msg}`.
    init?(flat f: [FlatJSON.Value?]) {
        let n = Wire.Order.flatKeys.count
        if let order = Wire.Order(flat: Array(f[..<n])) {
            self = .order(order)
        } else if let code = f[n].requiredInt, let int = Int(exactly: code), let msg = f[n + 1].requiredString {
            self = .error(Wire.ErrorBody(code: int, msg: msg))
        } else {
            return nil
        }
    }
}

extension Wire.AlgoOrder: FlatDecodable {
    static let flatKeys = [
        "algoId", "clientAlgoId", "orderType", "symbol", "side", "quantity", "algoStatus", "triggerPrice", "price",
        "createTime", "executedQty",
    ]

    init?(flat f: [FlatJSON.Value?]) {
        guard let algoId = f[0].requiredInt, let clientAlgoId = f[1].optionalString, let orderType = f[2].requiredString,
            let symbol = f[3].requiredString, let side = f[4].requiredString, let quantity = f[5].optionalString,
            let algoStatus = f[6].requiredString, let triggerPrice = f[7].optionalString, let price = f[8].optionalString,
            let createTime = f[9].optionalInt, let executedQty = f[10].optionalString
        else { return nil }
        self.init(
            algoId: algoId,
            clientAlgoId: clientAlgoId,
            orderType: orderType,
            symbol: symbol,
            side: side,
            quantity: quantity,
            algoStatus: algoStatus,
            triggerPrice: triggerPrice,
            price: price,
            createTime: createTime,
            executedQty: executedQty
        )
    }
}

extension Wire {
    /// A list of flat wire objects: the fast reader when it understands the body, `JSONDecoder` otherwise.
    static func decodeList<T: FlatDecodable>(_ type: T.Type, _ bytes: [UInt8], _ endpoint: String) throws(BinanceError) -> [T] {
        if let objects = FlatJSON.objects(bytes, keys: T.flatKeys) {
            var out: [T] = []
            out.reserveCapacity(objects.count)
            for object in objects {
                guard let item = T(flat: object) else { return try decode([T].self, bytes, endpoint) }
                out.append(item)
            }
            return out
        }
        return try decode([T].self, bytes, endpoint)
    }
}
