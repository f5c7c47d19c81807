import Foundation
import HummingbirdWSClient
import Logging
import OriginKeys
import SyncCore
import Synchronization

/// Binance's user data streams as order signals: spot through the WebSocket API
/// (`userDataStream.subscribe.signature`, HMAC over `apiKey` and `timestamp`), USDⓈ-M futures through a
/// listenKey (`POST /fapi/v1/listenKey`, kept alive by `PUT`) and its private stream. One connection
/// per account and market; every connection is followed by `.live`, every loss by `.gap`.
extension AccountClient {
    /// `POST /fapi/v1/listenKey`: the account's key (the same one, extended, while it lives).
    func createListenKey() async throws(BinanceError) -> String {
        let body = try await session.perform(
            .init(market: .futures, method: "POST", path: "/fapi/v1/listenKey", params: [], weight: 1, idempotent: true, keyOnly: true),
            credentials: credentials
        )
        struct Key: Decodable { var listenKey: String }
        return try Wire.decode(Key.self, body, "POST /fapi/v1/listenKey").listenKey
    }

    /// `PUT /fapi/v1/listenKey`: false when the key is gone (-1125) and a new one is needed.
    func keepListenKeyAlive() async throws(BinanceError) -> Bool {
        do {
            _ = try await session.perform(
                .init(market: .futures, method: "PUT", path: "/fapi/v1/listenKey", params: [], weight: 1, idempotent: true, keyOnly: true),
                credentials: credentials
            )
            return true
        } catch  where error.code == -1125 {
            return false
        }
    }

    /// The exchange's time now, as the signed requests stamp it.
    func serverNow(_ market: Market) async -> Millis {
        await session.hosts.ready(session.configuration.base(market), market: market, session: session).serverNow
    }

    /// Follows the account's orders in one market until cancelled.
    func follow(_ market: Market, signal: @escaping @Sendable (StreamSignal) async -> Void) async {
        let configuration = session.configuration
        guard let base = market == .spot ? configuration.spotStreamURL : configuration.futuresStreamURL else { return }
        var failures = 0
        var logger = Logger(label: "ordersync.stream")
        logger.logLevel = .critical
        while !Task.isCancelled {
            let live = Reason("")
            let reason: String
            do {
                let url = market == .futures ? base + "?listenKey=" + (try await createListenKey()) : base
                let ended = try await connect(url, market: market, logger: logger, signal: signal) { live.set("live") }
                reason = ended
            } catch {
                reason = "\(error)"
            }
            if Task.isCancelled { return }
            await signal(.gap(reason: reason))
            failures = live.value.isEmpty ? failures + 1 : 0
            // Backoff: base × 2ⁿ up to the cap, jittered down to half, so a thousand accounts cut
            // off together do not reconnect together.
            let wait = min(configuration.reconnectCap, configuration.reconnectBase * (1 << min(failures, 10)))
            try? await Task.sleep(for: wait * Double.random(in: 0.5...1))
        }
    }

    /// One connection: subscribes (spot), reads events until the stream ends; returns why it ended.
    private func connect(
        _ url: String,
        market: Market,
        logger: Logger,
        signal: @escaping @Sendable (StreamSignal) async -> Void,
        onLive: @escaping @Sendable () -> Void
    ) async throws -> String {
        let ending = Reason("the stream closed")
        let credentials = self.credentials
        let keepAlive = session.configuration.listenKeyKeepAlive
        let buffer = session.configuration.streamEventBuffer
        let client = self
        try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20), logger: logger) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            if market == .spot {
                let stamp = await client.serverNow(.spot)
                let signature = BinanceSession.hmac(credentials.secret, "apiKey=\(credentials.apiKey)&timestamp=\(stamp)")
                let request =
                    #"{"id":"ordersync-1","method":"userDataStream.subscribe.signature","params":{"apiKey":"\#(credentials.apiKey)","timestamp":\#(stamp),"signature":"\#(signature)"}}"#
                try await outbound.write(.text(request))
                guard case .text(let answer)? = try await messages.next() else {
                    ending.set("no answer to the subscription")
                    return
                }
                let reply = (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any]
                guard (reply?["status"] as? Int) == 200 else {
                    let error = reply?["error"] as? [String: Any]
                    ending.set("subscription refused: \(error?["code"] ?? "?") \(error?["msg"] ?? "")")
                    return
                }
            }
            onLive()
            await signal(.live)
            // Reading apart from applying: the exchange's pings are answered only while frames are
            // read, so an event waiting for its account's lock or the database must not hold the
            // next frame (a late pong is a dropped connection, and a dropped connection a resync).
            // Events are applied in their order; more waiting than the buffer holds ends the
            // connection like any gap (the resync covers what was not applied).
            let (events, sink) = AsyncStream.makeStream(of: (ExchangeOrder, Millis).self, bufferingPolicy: .bufferingOldest(buffer))
            defer { sink.finish() }
            try await withThrowingTaskGroup(of: Void.self) { applying in
                applying.addTask { for await (order, time) in events { await signal(.order(order, updateTime: time)) } }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if market == .futures {
                        group.addTask {
                            while true {
                                try await Task.sleep(for: keepAlive)
                                if try await !client.keepListenKeyAlive() {
                                    ending.set("the listenKey lapsed")
                                    try? await outbound.close(.normalClosure, reason: nil)
                                    return
                                }
                            }
                        }
                    }
                    reading: while let message = try await messages.next() {
                        guard case .text(let text) = message else { continue }
                        switch UserStreamEvent.parse(text) {
                        case .order(let order, let time):
                            if case .dropped = sink.yield((order, time)) {
                                ending.set("more than \(buffer) events waiting to be applied")
                                break reading
                            }
                        case .ended(let why):
                            ending.set(why)
                            break reading
                        case .other: continue
                        }
                    }
                    group.cancelAll()
                }
                // Nothing more is read, so nothing more is answered: the connection is closed now,
                // not left unread (its pings unanswered) until the exchange gives up on it, and what
                // was read is applied before the gap is signalled.
                try? await outbound.close(.normalClosure, reason: nil)
                sink.finish()
                try await applying.waitForAll()
            }
        }
        return ending.value
    }
}

/// One user data stream message, read.
enum UserStreamEvent: Equatable {
    case order(ExchangeOrder, updateTime: Millis)
    /// The stream will carry nothing more (`listenKeyExpired`, `eventStreamTerminated`, `serverShutdown`).
    case ended(String)
    /// Anything else (balances, positions, answers).
    case other

    static func parse(_ text: String) -> UserStreamEvent {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return .other }
        if let inner = object["event"] as? [String: Any] { object = inner }  // spot: {"subscriptionId", "event"}
        switch object["e"] as? String {
        case "executionReport": return (try? spot(object)).map { .order($0.0, updateTime: $0.1) } ?? .other
        case "ORDER_TRADE_UPDATE": return (try? futures(object)).map { .order($0.0, updateTime: $0.1) } ?? .other
        case "ALGO_UPDATE": return (try? algo(object)).map { .order($0.0, updateTime: $0.1) } ?? .other
        case "listenKeyExpired": return .ended("the listenKey expired")
        case "eventStreamTerminated": return .ended("the subscription ended")
        case "serverShutdown": return .ended("the server is shutting down")
        default: return .other
        }
    }

    static func string(_ o: [String: Any], _ key: String) throws(BinanceError) -> String {
        guard let value = o[key] as? String else { throw BinanceError(.decoding, "event field \(key)") }
        return value
    }
    static func int(_ o: [String: Any], _ key: String) throws(BinanceError) -> Int64 {
        guard let value = o[key] as? NSNumber else { throw BinanceError(.decoding, "event field \(key)") }
        return value.int64Value
    }
    static func amount(_ o: [String: Any], _ key: String) throws(BinanceError) -> Amount { try Wire.amount(try string(o, key), key) }

    /// `executionReport`: the order's state after the change; its original client id when cancelled.
    static func spot(_ e: [String: Any]) throws(BinanceError) -> (ExchangeOrder, Millis) {
        let type = try string(e, "o")
        let original = (e["C"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let stop = try amount(e, "P")
        let client = try string(e, "c")
        let time = try int(e, "T")
        let order = ExchangeOrder(
            id: .regular(try int(e, "i")),
            clientOrderID: original ?? client,
            symbol: try string(e, "s"),
            side: try Wire.side(try string(e, "S")),
            type: OrderType(type),
            status: try Wire.status(try string(e, "X")),
            price: try amount(e, "p"),
            stopPrice: stop.isZero ? nil : stop,
            quantity: try amount(e, "q"),
            executedQuantity: try amount(e, "z"),
            time: (try? int(e, "O")) ?? time,
            originType: Wire.originType(type)
        )
        return (order, time)
    }

    /// `ORDER_TRADE_UPDATE`: `o` holds the order; the outer `T` is the transaction time.
    static func futures(_ e: [String: Any]) throws(BinanceError) -> (ExchangeOrder, Millis) {
        guard let o = e["o"] as? [String: Any] else { throw BinanceError(.decoding, "event field o") }
        let type = try string(o, "o")
        let stop = try amount(o, "sp")
        let tradeTime = try int(o, "T")
        let time = (try? int(e, "T")) ?? tradeTime
        let order = ExchangeOrder(
            id: .regular(try int(o, "i")),
            clientOrderID: try string(o, "c"),
            symbol: try string(o, "s"),
            side: try Wire.side(try string(o, "S")),
            type: OrderType(type),
            status: try Wire.status(try string(o, "X")),
            price: try amount(o, "p"),
            stopPrice: stop.isZero ? nil : stop,
            quantity: try amount(o, "q"),
            executedQuantity: try amount(o, "z"),
            time: time,
            originType: Wire.originType(type)
        )
        return (order, time)
    }

    /// `ALGO_UPDATE`: a conditional order (`algo:<aid>`, also known by its plain algoId). Its outer
    /// `E` is the transaction time (the documentation's labels are the reverse of ORDER_TRADE_UPDATE's).
    static func algo(_ e: [String: Any]) throws(BinanceError) -> (ExchangeOrder, Millis) {
        guard let o = e["o"] as? [String: Any] else { throw BinanceError(.decoding, "event field o") }
        let id = try int(o, "aid")
        let type = try string(o, "o")
        let eventTime = try int(e, "T")
        let time = (try? int(e, "E")) ?? eventTime
        let order = ExchangeOrder(
            id: .algo(id),
            clientOrderID: try string(o, "caid"),
            symbol: try string(o, "s"),
            side: try Wire.side(try string(o, "S")),
            type: OrderType(type),
            status: try Wire.status(try string(o, "X")),
            price: try amount(o, "p"),
            stopPrice: try amount(o, "tp"),
            quantity: try amount(o, "q"),
            executedQuantity: (try? amount(o, "aq")) ?? .zero,
            time: time,
            aliases: [.regular(id)],
            originType: Wire.originType(type)
        )
        return (order, time)
    }
}

/// Binance's streams for the runtime: every account with keys, in each market with a stream URL.
struct BinanceStreams: OrderStreams {
    let gateway: BinanceGateway

    func streams(_ account: AccountRecord, market: Market) -> Bool {
        let configuration = (account.isTestnet ? gateway.testnet : gateway.main).configuration
        return (market == .spot ? configuration.spotStreamURL : configuration.futuresStreamURL) != nil
    }

    func follow(_ account: AccountRecord, market: Market, signal: @escaping @Sendable (StreamSignal) async -> Void) async {
        let client: AccountClient
        do { client = try gateway.client(account) } catch {
            await signal(.gap(reason: error.description))
            return
        }
        await client.follow(market, signal: signal)
    }
}

extension BinanceGateway {
    public var orderStreams: (any OrderStreams)? { BinanceStreams(gateway: self) }
}

/// Why a connection ended, set from its tasks.
final class Reason: Sendable {
    private let text: Mutex<String>
    init(_ initial: String) { text = Mutex(initial) }
    func set(_ value: String) { text.withLock { $0 = value } }
    var value: String { text.withLock { $0 } }
}
