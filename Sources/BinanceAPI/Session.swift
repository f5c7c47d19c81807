import Crypto
import Foundation
import Metrics
import OriginKeys
import SyncCore

/// Where the exchange is, and how hard to try.
public struct ClientConfiguration: Sendable {
    /// Spot base URL (`https://api.binance.com`), futures base URL (`https://fapi.binance.com`).
    public var spotURL: String
    public var futuresURL: String
    /// `recvWindow` sent with signed requests (ms, ≤ 60000).
    public var recvWindow: Int = 5000
    /// Deadline per request.
    public var requestTimeout: Duration = .seconds(10)
    /// Attempts for reads (and for writes the exchange certainly did not process).
    public var maxAttempts: Int = 4
    /// Backoff base: attempt n waits base × 2ⁿ plus jitter up to base.
    public var backoffBaseMs: Millis = 100
    /// Share of the weight limit the governor plans against.
    public var weightBudget: Double = 0.8
    /// Used until `exchangeInfo` tells the real ones.
    public var spotWeightLimit: Int = 6000
    public var futuresWeightLimit: Int = 2400
    /// Spot has no batch cancel: this many single cancels run at once per account.
    public var spotCancelParallelism: Int = 5
    /// User data streams: spot's WebSocket API (`userDataStream.subscribe.signature`) and USDⓈ-M
    /// futures' private stream (`?listenKey=` is appended); nil: no streams for that market.
    public var spotStreamURL: String?
    public var futuresStreamURL: String?
    /// How often a futures listenKey is kept alive (it lapses after 60 minutes without).
    public var listenKeyKeepAlive: Duration = .seconds(30 * 60)
    /// Reconnection backoff: base × 2ⁿ up to the cap, each wait jittered down to half.
    public var reconnectBase: Duration = .milliseconds(250)
    public var reconnectCap: Duration = .seconds(30)
    /// Events read from a stream connection and not yet applied; one more ends the connection,
    /// like any gap (the account's resync covers what was not applied).
    public var streamEventBuffer: Int = 10_000

    public init(spotURL: String, futuresURL: String) {
        self.spotURL = spotURL
        self.futuresURL = futuresURL
    }

    /// The same simulator or gateway for both products.
    public init(baseURL: String) { self.init(spotURL: baseURL, futuresURL: baseURL) }

    func base(_ market: Market) -> String { market == .spot ? spotURL : futuresURL }
}

/// Shared by every account: the transport, one weight governor and one server-time offset per
/// host. Make one per process.
public final class BinanceSession: Sendable {
    public let configuration: ClientConfiguration
    let transport: any HTTPTransport
    let clock: ClientClock
    let hosts: HostRegistry
    let requests: @Sendable (String, Int) -> Void

    public init(configuration: ClientConfiguration, transport: any HTTPTransport = AsyncHTTPTransport(), clock: ClientClock = .system) {
        self.configuration = configuration
        self.transport = transport
        self.clock = clock
        self.hosts = HostRegistry(configuration: configuration, clock: clock)
        self.requests = { endpoint, status in
            Counter(label: "ordersync_exchange_requests_total", dimensions: [("endpoint", endpoint), ("status", String(status))]).increment()
        }
    }

    /// The client for one account.
    public func account(_ credentials: Credentials) -> AccountClient { AccountClient(session: self, credentials: credentials) }

    /// Waits until a read of `weight` would fit in the market's budget (see `WeightGovernor.waitForRoom`).
    public func waitForRoom(_ market: Market, weight: Int) async {
        await governor(market).waitForRoom(weight)
    }

    /// The governor of a market's host (for reports and tests).
    public func governor(_ market: Market) async -> WeightGovernor { await hosts.governor(configuration.base(market), market: market) }

    public func shutdown() async { await transport.shutdown() }

    // MARK: The request pipeline

    struct Call: Sendable {
        var market: Market
        var method: String
        var path: String
        var params: [(String, String)]
        var weight: Int
        /// Reads (and cancels the caller will settle by query) are safe to repeat on failure.
        var idempotent: Bool
        /// Cancels and the queries that settle them: planned against a higher ceiling than reads,
        /// so a cancel never waits for the next window because passes spent the read budget.
        var urgent = false
        /// USER_STREAM security: the API key header alone, no timestamp or signature (listenKeys).
        var keyOnly = false
        var endpoint: String { "\(method) \(path)" }
    }

    /// Sends a call and returns the 200 body, or throws the typed error. Reads are retried on 5xx,
    /// transport failures and unreadable bodies; every call is retried after a 429 pause and once
    /// after a -1021 time resync. A non-idempotent call that may have been applied throws
    /// `.unknownOutcome` for the caller to settle.
    func perform(_ call: Call, credentials: Credentials?) async throws(BinanceError) -> [UInt8] {
        let base = configuration.base(call.market)
        let governor = await hosts.ready(base, market: call.market, session: self)
        var resynced = false
        var attempt = 0
        while true {
            attempt += 1
            let last = attempt >= configuration.maxAttempts
            try await governor.acquire(call.weight, urgent: call.urgent || !call.idempotent)
            var query = call.params.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
            var headers: [(String, String)] = []
            if let credentials, call.keyOnly {
                headers.append(("X-MBX-APIKEY", credentials.apiKey))
            } else if let credentials {
                let stamp = await governor.serverNow
                query += (query.isEmpty ? "" : "&") + "recvWindow=\(configuration.recvWindow)&timestamp=\(stamp)"
                // The signature covers exactly the bytes sent.
                query += "&signature=" + Self.hmac(credentials.secret, query)
                headers.append(("X-MBX-APIKEY", credentials.apiKey))
            }
            let url = base + call.path + (query.isEmpty ? "" : "?" + query)
            let reply: HTTPReply
            do {
                reply = try await transport.send(method: call.method, url: url, headers: headers, timeout: configuration.requestTimeout)
            } catch let failure as TransportFailure {
                requests(call.endpoint, 0)
                if (call.idempotent || !failure.sent) && !last {
                    try await backoff(attempt)
                    continue
                }
                throw BinanceError(failure.sent ? .unknownOutcome : .transport, "\(call.endpoint): \(failure.reason)")
            } catch {
                throw BinanceError(.transport, "\(call.endpoint): cancelled")
            }
            requests(call.endpoint, reply.status)
            await governor.observe(status: reply.status, headers: reply.headers)
            if reply.status == 200 { return reply.body }

            let error = try? Wire.ErrorBody(reply.body)
            let code = error?.code
            let message = "\(call.endpoint): HTTP \(reply.status)" + (error.map { " \($0.code) \($0.msg)" } ?? "")
            switch reply.status {
            case 429:
                // Not processed: safe to repeat once the pause is over.
                if !last { continue }
                throw BinanceError(.rateLimited, code: code, message, until: await governor.snapshot.pausedUntil)
            case 418:
                throw BinanceError(.banned, code: code, message, until: await governor.snapshot.bannedUntil)
            case 401:
                throw BinanceError(.authentication, code: code, message)
            case 500...599:
                if call.idempotent && !last {
                    try await backoff(attempt)
                    continue
                }
                // 503 "Service Unavailable" (-1001-style) did nothing; everything else may have.
                throw BinanceError(code == -1001 ? .transport : .unknownOutcome, code: code, message)
            default:
                break
            }
            switch code {
            case .some(-1021) where !resynced:
                resynced = true
                await hosts.resync(base, market: call.market, session: self)
                continue
            case .some(-1022), .some(-2014), .some(-2015):
                throw BinanceError(.authentication, code: code, message)
            case .some(-2013):
                throw BinanceError(.notFound, code: code, message)
            case .some(-1007), .some(-1006):
                if call.idempotent && !last {
                    try await backoff(attempt)
                    continue
                }
                throw BinanceError(.unknownOutcome, code: code, message)
            default:
                throw BinanceError(.rejected, code: code, message)
            }
        }
    }

    func backoff(_ attempt: Int) async throws(BinanceError) {
        let base = configuration.backoffBaseMs
        let delay = base * (1 << min(attempt - 1, 6)) + Millis.random(in: 0...max(base, 1))
        do { try await clock.sleep(delay) } catch { throw BinanceError(.transport, "cancelled during backoff") }
    }

    /// An unsigned GET answered with a decoded body (time sync, exchangeInfo).
    func publicGet<T: Decodable>(_ type: T.Type, market: Market, path: String) async throws(BinanceError) -> T {
        let url = configuration.base(market) + path
        do {
            let reply = try await transport.send(method: "GET", url: url, headers: [], timeout: configuration.requestTimeout)
            guard reply.status == 200 else { throw BinanceError(.transport, "GET \(path): HTTP \(reply.status)") }
            return try Wire.decode(type, reply.body, "GET \(path)")
        } catch let error as BinanceError {
            throw error
        } catch {
            throw BinanceError(.transport, "GET \(path): \(error)")
        }
    }

    static let unreserved: Set<UInt8> = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8)

    /// Percent-encodes everything but unreserved characters, so the bytes signed are the bytes sent.
    static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            if unreserved.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPad(2)
            }
        }
        return out
    }

    /// Lower-case hex HMAC-SHA256.
    public static func hmac(_ secret: Secret, _ payload: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: SymmetricKey(data: Array(secret.reveal().utf8)))
            .map { String($0, radix: 16).leftPad(2) }.joined()
    }
}

extension Wire.ErrorBody {
    init(_ bytes: [UInt8]) throws { self = try JSONDecoder().decode(Wire.ErrorBody.self, from: Data(bytes)) }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// One governor and one server-time offset per host, set up on first use: limits from
/// `exchangeInfo`, offset from `time`.
actor HostRegistry {
    let configuration: ClientConfiguration
    let clock: ClientClock
    var governors: [String: WeightGovernor] = [:]
    /// One setup per host; callers that arrive while it runs wait for the same one.
    var setups: [String: Task<Bool, Never>] = [:]

    init(configuration: ClientConfiguration, clock: ClientClock) {
        self.configuration = configuration
        self.clock = clock
    }

    func governor(_ base: String, market: Market) -> WeightGovernor {
        let key = "\(base) \(market.rawValue)"
        if let g = governors[key] { return g }
        let g = WeightGovernor(
            host: key,
            limit: market == .spot ? configuration.spotWeightLimit : configuration.futuresWeightLimit,
            budgetFraction: configuration.weightBudget,
            clock: clock
        )
        governors[key] = g
        return g
    }

    /// The governor, once the host's limits (`exchangeInfo`) and clock (`time`) are learned.
    /// Concurrent first callers share one setup; a failed setup is tried again by the next call
    /// (the configured limits stand meanwhile).
    func ready(_ base: String, market: Market, session: BinanceSession) async -> WeightGovernor {
        let g = governor(base, market: market)
        let key = "\(base) \(market.rawValue)"
        let setup: Task<Bool, Never>
        if let running = setups[key] {
            setup = running
        } else {
            setup = Task { await self.learn(base, market: market, session: session, governor: g) }
            setups[key] = setup
        }
        if await setup.value == false, setups[key] == setup { setups[key] = nil }
        return g
    }

    private func learn(_ base: String, market: Market, session: BinanceSession, governor g: WeightGovernor) async -> Bool {
        let info = market == .spot ? "/api/v3/exchangeInfo" : "/fapi/v1/exchangeInfo"
        guard let exchange = try? await session.publicGet(Wire.ExchangeInfo.self, market: market, path: info),
            let weight = exchange.rateLimits.first(where: { $0.rateLimitType == "REQUEST_WEIGHT" })
        else { return false }
        let unit: Millis = ["SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000][weight.interval] ?? 60_000
        await g.learn(limit: weight.limit, windowMs: unit * Millis(weight.intervalNum))
        await resync(base, market: market, session: session)
        return true
    }

    /// Measures the server-time offset: `serverTime` was read at some local instant between sending
    /// (`before`) and the answer (`after`). The midpoint is the best guess, but its error is up to
    /// half the round trip either way, and an error ahead is what the exchange refuses (-1021 at
    /// 1000 ms ahead; behind, `recvWindow` — 5000 ms by default — is allowed). So the guess is the
    /// midpoint for quick round trips and at most `maximumLead` past the earliest possible offset
    /// for slow ones (a busy machine, a congested link): stamps are then never more than that ahead.
    func resync(_ base: String, market: Market, session: BinanceSession) async {
        let g = governor(base, market: market)
        let before = clock.now()
        guard let time = try? await session.publicGet(Wire.ServerTime.self, market: market, path: market == .spot ? "/api/v3/time" : "/fapi/v1/time")
        else { return }
        await g.setOffset(Self.offset(serverTime: time.serverTime, before: before, after: clock.now()))
    }

    /// The most a learned offset may put stamps ahead of the server's clock.
    static let maximumLead: Millis = 500

    /// The offset `resync` sets (see there).
    static func offset(serverTime: Millis, before: Millis, after: Millis) -> Millis {
        serverTime - after + min(max(after - before, 0) / 2, maximumLead)
    }
}
