import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SimulatorSupport
import SyncCore

/// The unsigned control API under `/_sim/`, as on the Binance simulator: market activity, orders
/// by hand, faults, limits and the complete truth. For tests and demos on loopback; never part of
/// the Upbit surface.
///
///     GET  /_sim/truth    every order ever placed or seeded, with its account id and state
///     GET  /_sim/stats    account-wide cancels, requests served by endpoint, 429 refusals
///     POST /_sim/act      {"uuid":"…","action":"fill|partial_fill|cancel","quantity":"0.001"}
///     POST /_sim/place    {"account_id":7,"market":"KRW-BTC","side":"bid","price":"90000000","volume":"0.01","identifier":"manual1"}
///                         (Bithumb: "client_order_id")
///     POST /_sim/faults   {"latency_ms":50,"failing_accounts":[3]}
///     POST /_sim/limits   {"default":30,"order":8,"order-cancel-all":1}
enum UpbitControl {
    struct Act: Decodable {
        var uuid: String
        var action: String
        var quantity: String?
    }
    struct Place: Decodable {
        var account_id: Int64
        var market: String
        var side: String
        var ord_type: String?
        var price: String?
        var volume: String?
        var identifier: String?
        var client_order_id: String?
    }
    struct Faults: Decodable {
        var latency_ms: Int?
        var failing_accounts: [Int64]?
    }
    struct Failure: Error { var message: String }

    static func add(to router: Router<BasicRequestContext>, exchange: UpbitExchange, dialect: UpbitSimulator.Dialect) {
        router.get("/_sim/truth") { _, _ in
            ok(.array(await exchange.truth().map { truthJSON($0.account, $0.order, dialect) }))
        }
        router.get("/_sim/stats") { _, _ in
            let requests = await exchange.requestCounts.sorted { $0.key < $1.key }.map { ($0.key, JSON.int(Int64($0.value))) }
            return ok(
                .object([
                    ("wide_cancels", .int(Int64(await exchange.wideCancels))), ("requests", .object(requests)),
                    ("rate_limited", .int(Int64(await exchange.refused))),
                ])
            )
        }
        router.post("/_sim/act") { request, _ in
            await handle(request) { data in
                let a = try decode(Act.self, data)
                let order: UpbitExchange.Order?
                switch a.action {
                case "fill": order = await exchange.fill(uuid: a.uuid)
                case "partial_fill":
                    guard let q = a.quantity, let amount = Amount(q), amount > .zero else {
                        throw Failure(message: "partial_fill needs a positive quantity")
                    }
                    order = await exchange.fill(uuid: a.uuid, volume: amount.description)
                case "cancel": order = await exchange.cancelElsewhere(uuid: a.uuid)
                default: throw Failure(message: "action must be one of fill, partial_fill, cancel")
                }
                guard let order else { throw Failure(message: "order \(a.uuid) is not resting") }
                return truthJSON(await exchange.truth().first { $0.order.uuid == order.uuid }?.account, order, dialect)
            }
        }
        router.post("/_sim/place") { request, _ in
            await handle(request) { data in
                let p = try decode(Place.self, data)
                guard let key = await exchange.accessKey(of: AccountID(p.account_id)) else {
                    throw Failure(message: "no account with id \(p.account_id)")
                }
                let order = try await exchange.place(
                    accessKey: key,
                    market: p.market,
                    side: p.side,
                    ordType: p.ord_type ?? "limit",
                    price: p.price,
                    volume: p.volume,
                    identifier: p.identifier ?? p.client_order_id
                )
                return truthJSON(AccountID(p.account_id), order, dialect)
            }
        }
        router.post("/_sim/faults") { request, _ in
            await handle(request) { data in
                let f = try decode(Faults.self, data)
                guard (f.latency_ms ?? 0) >= 0 else { throw Failure(message: "latency_ms must not be negative") }
                await exchange.setFaults(latencyMs: f.latency_ms ?? 0, failingAccounts: Set((f.failing_accounts ?? []).map(AccountID.init)))
                return .object([("ok", .bool(true))])
            }
        }
        router.post("/_sim/limits") { request, _ in
            await handle(request) { data in
                let given = try decode([String: Int].self, data)
                guard given.values.allSatisfy({ $0 > 0 }) else { throw Failure(message: "limits must be positive") }
                var limits = UpbitExchange.Limits()
                for (group, n) in given { limits.perSecond[group] = n }
                await exchange.setLimits(limits)
                return .object([("ok", .bool(true))])
            }
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch { throw Failure(message: "bad JSON body: \(error)") }
    }

    static func handle(_ request: Request, _ body: (Data) async throws -> JSON) async -> Response {
        var request = request
        do {
            let data = Data(buffer: try await request.collectBody(upTo: 64 * 1024))
            return ok(try await body(data))
        } catch let failure as Failure {
            return reply(.badRequest, .object([("error", .string(failure.message))]))
        } catch let error as UpbitAPIError {
            return reply(
                .init(code: error.status),
                .object([("error", .object([("name", .string(error.name)), ("message", .string(error.message))]))])
            )
        } catch {
            return reply(.badRequest, .object([("error", .string("\(error)"))]))
        }
    }

    static func ok(_ body: JSON) -> Response { reply(.ok, body) }

    static func reply(_ status: HTTPResponse.Status, _ body: JSON) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    static func truthJSON(_ account: AccountID?, _ o: UpbitExchange.Order, _ dialect: UpbitSimulator.Dialect) -> JSON {
        guard case .object(var fields) = UpbitSimulator.json(o, dialect) else { return .null }
        fields.insert(("account_id", account.map { .int($0.rawValue) } ?? .null), at: 0)
        return .object(fields)
    }
}
