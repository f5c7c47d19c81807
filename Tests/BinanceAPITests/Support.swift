import BinanceAPI
import BinanceSimulator
import Foundation
import OriginKeys
import SyncCore
import Synchronization
import Testing

/// Time shared by the simulator and the client. In virtual mode a wait moves the clock forward
/// (to the latest deadline asked for) instead of sleeping, so weight windows pass instantly.
final class TestTime: Sendable {
    private let value: Mutex<Millis>
    let virtual: Bool
    init(virtual: Bool, start: Millis = Int64(Date().timeIntervalSince1970 * 1000)) {
        value = Mutex(start)
        self.virtual = virtual
    }
    var now: Millis { virtual ? value.withLock { $0 } : Int64(Date().timeIntervalSince1970 * 1000) }
    var clientClock: ClientClock {
        if !virtual { return .system }
        return ClientClock(
            now: { [self] in self.now },
            sleep: { [self] ms in
                let target = self.now + ms
                self.value.withLock { $0 = max($0, target) }
                await Task.yield()
            }
        )
    }
}

/// Counts replies by status (a real transport underneath).
final class CountingTransport: HTTPTransport {
    let inner = AsyncHTTPTransport(maxConnectionsPerHost: 128)
    let statuses = Mutex<[Int: Int]>([:])
    func send(method: String, url: String, headers: [(String, String)], timeout: Duration) async throws -> HTTPReply {
        let reply = try await inner.send(method: method, url: url, headers: headers, timeout: timeout)
        statuses.withLock { $0[reply.status, default: 0] += 1 }
        return reply
    }
    func shutdown() async { await inner.shutdown() }
    var counts: [Int: Int] { statuses.withLock { $0 } }
}

/// A simulator on a free loopback port with accounts 1…n (key `key-i`, secret `secret-i`) and a
/// client session pointed at it.
struct Rig: Sendable {
    let exchange: Exchange
    let session: BinanceSession
    let transport: CountingTransport
    let time: TestTime
    let base: String

    func client(_ account: Int = 1) -> AccountClient {
        session.account(Credentials(apiKey: "key-\(account)", secret: Secret("secret-\(account)")))
    }

    static func with<T: Sendable>(
        accounts: Int = 2,
        simulator: SimulatorConfiguration = SimulatorConfiguration(),
        virtualTime: Bool = false,
        recvWindow: Int? = nil,
        requestTimeout: Duration? = nil,
        streams: Bool = false,
        streamEventBuffer: Int? = nil,
        _ body: @Sendable (Rig) async throws -> T
    ) async throws -> T {
        let time = TestTime(virtual: virtualTime)
        let exchange = Exchange(configuration: simulator, clock: { time.now })
        for i in 1...accounts { await exchange.addAccount(AccountID(Int64(i)), apiKey: "key-\(i)", secret: "secret-\(i)") }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Simulator(exchange: exchange).application(port: 0) { continuation.yield($0) }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService()
                return nil
            }
            var it = ports.makeAsyncIterator()
            guard let port = await it.next() else { throw CancellationError() }
            let base = "http://127.0.0.1:\(port)"
            var config = ClientConfiguration(baseURL: base)
            config.backoffBaseMs = 5
            if let recvWindow { config.recvWindow = recvWindow }
            if let requestTimeout { config.requestTimeout = requestTimeout }
            if streams {
                config.spotStreamURL = "ws://127.0.0.1:\(port)/ws-api/v3"
                config.futuresStreamURL = "ws://127.0.0.1:\(port)/private/ws"
            }
            if let streamEventBuffer { config.streamEventBuffer = streamEventBuffer }
            let transport = CountingTransport()
            let session = BinanceSession(configuration: config, transport: transport, clock: time.clientClock)
            let rig = Rig(exchange: exchange, session: session, transport: transport, time: time, base: base)
            let result: T
            do { result = try await body(rig) } catch {
                await session.shutdown()
                group.cancelAll()
                throw error
            }
            await session.shutdown()
            group.cancelAll()
            return result
        }
    }

    /// Places a resting futures LIMIT order by hand and returns its id.
    func resting(
        _ account: Int = 1,
        market: Market = .futures,
        symbol: String = "BTCUSDT",
        price: String = "50000",
        client: String? = nil
    ) async throws -> ExchangeOrderID {
        let order = try await exchange.placeByHand(
            NewOrder(
                symbol: symbol,
                side: .buy,
                type: "LIMIT",
                timeInForce: "GTC",
                quantity: Amount("0.002"),
                price: Amount(price),
                clientOrderID: client
            ),
            account: AccountID(Int64(account)),
            product: Product(market)
        )
        return .regular(order.id)
    }

    func truth(_ id: ExchangeOrderID) async -> SimOrder? {
        await exchange.truth().first { $0.id == Int64(id.venueID) && $0.isAlgo == id.isAlgo }
    }
}
