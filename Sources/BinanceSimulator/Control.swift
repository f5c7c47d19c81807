import Foundation
import Hummingbird
import SimulatorSupport
import SyncCore

/// The unsigned control API under `/_sim/`: market activity, orders by hand, faults, limits and
/// the complete truth. For tests and demos on loopback; never part of the Binance surface.
///
///     GET  /_sim/truth                 every order ever placed, with its final state
///     GET  /_sim/stats                 wide-cancel calls and requests served by endpoint; weight charged and 429/418 refusals by product
///     POST /_sim/act     {"account_id":1,"market":"FUTURES","order_id":5,"algo":false,"action":"fill|partial_fill|expire|cancel","quantity":"0.001"}
///     POST /_sim/place   {"account_id":1,"market":"SPOT","symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"60000","quantity":"0.01","time_in_force":"GTC","client_order_id":"manual1"}
///     POST /_sim/faults  {"server_error":0.1,"unknown_after_apply":0,"timeout_after_apply":0,"drop_connection":0,"rate_limit_storm":0,"truncate_body":0,"latency_ms":0,"latency_jitter_ms":0,"clock_skew_ms":0,"failing_accounts":[3],"slow_accounts":[2],"slow_ms":3000}
///     POST /_sim/ban     {"market":"FUTURES","seconds":5}   every address banned (418) on that host, as after repeated 429s
///     POST /_sim/limits  {"spot_weight":6000,"futures_weight":2400,"window_seconds":60,"violations_before_ban":5,"ban_seconds":120}
///     POST /_sim/mark    {"symbol":"BTCUSDT","price":"64000"}
///     POST /_sim/streams {"action":"drop|expire|withhold|duplicate|reorder","ms":500,"count":1}
///                        drop: every stream connection closed; expire: every listenKey expired and
///                        subscription ended; withhold: events held back ms, then sent; duplicate /
///                        reorder: the next count events sent twice / the next count pairs swapped
///     GET  /_sim/streams                  connections open by market, connections ever opened, events sent
enum Control {
    struct Act: Decodable {
        var account_id: Int64
        var market: String
        var order_id: Int64
        var algo: Bool?
        var action: String
        var quantity: String?
    }

    struct Place: Decodable {
        var account_id: Int64
        var market: String
        var symbol: String
        var side: String
        var type: String
        var price: String?
        var stop_price: String?
        var quantity: String
        var time_in_force: String?
        var client_order_id: String?
    }

    struct Faults: Decodable {
        var server_error: Double?
        var unknown_after_apply: Double?
        var timeout_after_apply: Double?
        var drop_connection: Double?
        var rate_limit_storm: Double?
        var truncate_body: Double?
        var latency_ms: Int?
        var latency_jitter_ms: Int?
        var clock_skew_ms: Int64?
        var failing_accounts: [Int64]?
        var slow_accounts: [Int64]?
        var slow_ms: Int?
    }

    struct Ban: Decodable {
        var market: String
        var seconds: Int
    }

    struct Limits: Decodable {
        var spot_weight: Int?
        var futures_weight: Int?
        var window_seconds: Int?
        var violations_before_ban: Int?
        var ban_seconds: Int?
    }

    struct StreamFault: Decodable {
        var action: String
        var ms: Int?
        var count: Int?
    }

    struct Mark: Decodable {
        var symbol: String
        var price: String
    }

    struct Failure: Error { var message: String }

    static func respond(to request: inout Request, context: SimulatorContext, exchange: Exchange) async -> Response {
        do {
            let body = try await request.collectBody(upTo: 64 * 1024)
            let data = Data(buffer: body)
            func decode<T: Decodable>(_ type: T.Type) throws -> T {
                do { return try JSONDecoder().decode(type, from: data) } catch { throw Failure(message: "bad JSON body: \(error)") }
            }
            func market(_ text: String) throws -> Product {
                guard let m = Market(stored: text) else { throw Failure(message: "market must be SPOT or FUTURES") }
                return Product(m)
            }
            switch (request.method, request.uri.path) {
            case (.get, "/_sim/truth"):
                return ok(.array(await exchange.truth().map(truthJSON)))
            case (.get, "/_sim/stats"):
                let wide = await exchange.wideCancelCalls.sorted { $0.key < $1.key }.map { ($0.key, JSON.int(Int64($0.value))) }
                let requests = await exchange.requestCounts.sorted { $0.key < $1.key }.map { ($0.key, JSON.int(Int64($0.value))) }
                let weight = await exchange.weightCounts.sorted { $0.key < $1.key }.map { ($0.key, JSON.int(Int64($0.value))) }
                let refused = await exchange.refusedCounts.sorted { $0.key < $1.key }.map { ($0.key, JSON.int(Int64($0.value))) }
                return ok(
                    .object([
                        ("wide_cancels", .object(wide)), ("requests", .object(requests)), ("weight", .object(weight)),
                        ("rate_limited", .object(refused)),
                    ])
                )
            case (.post, "/_sim/act"):
                let a = try decode(Act.self)
                guard let action = MarketAction(rawValue: a.action) else {
                    throw Failure(message: "action must be one of \(MarketAction.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                var quantity: Amount?
                if let text = a.quantity {
                    guard let q = Amount(text), !q.isNegative, !q.isZero else { throw Failure(message: "quantity must be a positive decimal") }
                    quantity = q
                }
                let order = try await exchange.act(
                    action,
                    account: AccountID(a.account_id),
                    product: try market(a.market),
                    id: a.order_id,
                    algo: a.algo ?? false,
                    quantity: quantity
                )
                return ok(truthJSON(order))
            case (.post, "/_sim/place"):
                let p = try decode(Place.self)
                guard let side = Side(parsing: p.side) else { throw Failure(message: "side must be BUY or SELL") }
                func amount(_ t: String?) throws -> Amount? {
                    guard let t else { return nil }
                    guard let a = Amount(t) else { throw Failure(message: "\"\(t)\" is not a decimal") }
                    return a
                }
                let request = NewOrder(
                    symbol: p.symbol,
                    side: side,
                    type: p.type,
                    timeInForce: p.time_in_force ?? (p.type.uppercased() == "LIMIT" ? "GTC" : nil),
                    quantity: try amount(p.quantity),
                    price: try amount(p.price),
                    stopPrice: try amount(p.stop_price),
                    clientOrderID: p.client_order_id
                )
                let product = try market(p.market)
                let order =
                    product == .futures && OrderType(p.type).isConditional
                    ? try await exchange.placeAlgoByHand(request, account: AccountID(p.account_id))
                    : try await exchange.placeByHand(request, account: AccountID(p.account_id), product: product)
                return ok(truthJSON(order))
            case (.post, "/_sim/faults"):
                let f = try decode(Faults.self)
                var s = FaultSettings()
                s.serverError = f.server_error ?? 0
                s.unknownAfterApply = f.unknown_after_apply ?? 0
                s.timeoutAfterApply = f.timeout_after_apply ?? 0
                s.dropConnection = f.drop_connection ?? 0
                s.rateLimitStorm = f.rate_limit_storm ?? 0
                s.truncateBody = f.truncate_body ?? 0
                s.latencyMs = f.latency_ms ?? 0
                s.latencyJitterMs = f.latency_jitter_ms ?? 0
                s.clockSkewMs = f.clock_skew_ms ?? 0
                s.failingAccounts = Set((f.failing_accounts ?? []).map(AccountID.init))
                s.slowAccounts = Set((f.slow_accounts ?? []).map(AccountID.init))
                s.slowMs = f.slow_ms ?? 0
                await exchange.setFaults(s)
                return ok(.object([("ok", .bool(true))]))
            case (.post, "/_sim/ban"):
                let b = try decode(Ban.self)
                guard b.seconds > 0 else { throw Failure(message: "seconds must be positive") }
                await exchange.ban(try market(b.market), seconds: b.seconds)
                return ok(.object([("ok", .bool(true))]))
            case (.post, "/_sim/limits"):
                let l = try decode(Limits.self)
                let d = RateLimits()
                await exchange.setLimits(
                    RateLimits(
                        spotWeight: l.spot_weight ?? d.spotWeight,
                        futuresWeight: l.futures_weight ?? d.futuresWeight,
                        windowSeconds: l.window_seconds ?? d.windowSeconds,
                        violationsBeforeBan: l.violations_before_ban ?? d.violationsBeforeBan,
                        banSeconds: l.ban_seconds ?? d.banSeconds
                    )
                )
                return ok(.object([("ok", .bool(true))]))
            case (.get, "/_sim/streams"):
                let streams = exchange.streams
                let open = streams.connectionCount.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                    ($0.key.market.rawValue, JSON.int(Int64($0.value)))
                }
                return ok(
                    .object([
                        ("connections", .object(open)), ("connections_opened", .int(Int64(streams.connectionsOpened))),
                        ("events_sent", .int(Int64(streams.eventsSent))),
                    ])
                )
            case (.post, "/_sim/streams"):
                let f = try decode(StreamFault.self)
                let count = f.count ?? 1
                guard count > 0 else { throw Failure(message: "count must be positive") }
                switch f.action {
                case "drop": exchange.streams.dropAll()
                case "expire": exchange.streams.expireAll()
                case "withhold":
                    guard let ms = f.ms, ms > 0 else { throw Failure(message: "withhold needs \"ms\", a positive number of milliseconds") }
                    exchange.streams.withhold(ms: ms)
                case "duplicate": exchange.streams.duplicateNext(count)
                case "reorder": exchange.streams.reorderNext(count)
                default: throw Failure(message: "action must be one of drop, expire, withhold, duplicate, reorder")
                }
                return ok(.object([("ok", .bool(true))]))
            case (.post, "/_sim/mark"):
                let m = try decode(Mark.self)
                guard let price = Amount(m.price), !price.isZero else { throw Failure(message: "price must be a positive decimal") }
                await exchange.setMarkPrice(m.symbol, price)
                return ok(.object([("ok", .bool(true))]))
            default:
                return SimulatorResponder.json(
                    .notFound,
                    .object([("error", .string("no control endpoint \(request.method.rawValue) \(request.uri.path)"))]),
                    [:]
                )
            }
        } catch let failure as Failure {
            return SimulatorResponder.json(.badRequest, .object([("error", .string(failure.message))]), [:])
        } catch let error as APIError {
            return SimulatorResponder.json(error.status, Wire.error(error), [:])
        } catch {
            return SimulatorResponder.json(.badRequest, .object([("error", .string("\(error)"))]), [:])
        }
    }

    static func ok(_ body: JSON) -> Response { SimulatorResponder.json(.ok, body, [:]) }

    static func truthJSON(_ o: SimOrder) -> JSON {
        .object([
            ("account_id", .int(o.account.rawValue)), ("market", .string(o.product.market.rawValue)), ("order_id", .int(o.id)),
            ("algo", .bool(o.isAlgo)), ("client_order_id", .string(o.clientOrderID)), ("symbol", .string(o.symbol)),
            ("side", .string(o.side.rawValue)), ("type", .string(o.type)), ("status", .string(o.status.rawValue)),
            ("price", .string(o.price.description)), ("stop_price", .string(o.stopPrice.description)),
            ("quantity", .string(o.quantity.description)), ("executed_quantity", .string(o.executed.description)),
            ("time", .int(o.time)), ("update_time", .int(o.updateTime)),
        ])
    }
}
