import Crypto
import Foundation
import SimulatorSupport
import SyncCore
import Synchronization

/// The user data streams: futures listenKeys (`/fapi/v1/listenKey`) and the connections that
/// carry each account's order events (futures `/private/ws?listenKey=…`, spot WebSocket API
/// subscriptions), and the faults a test can inject into them (`POST /_sim/streams`).
///
/// Every order change the exchange makes is published here (`Exchange.store`); each open
/// connection of the order's account and product gets its event, in the order the changes were
/// made, unless a fault withholds, repeats or swaps them.
public final class UserStreams: Sendable {
    /// One connection's outgoing text frames; finishing it closes the connection.
    struct Connection {
        var account: AccountID
        var product: Product
        /// Spot: the subscription id events are wrapped with; nil for futures (unwrapped).
        var subscriptionID: Int?
        var listenKey: String?
        var output: AsyncStream<String>.Continuation
    }

    struct ListenKey {
        var account: AccountID
        var expires: Millis
    }

    struct State {
        var connections: [Int: Connection] = [:]
        var nextConnection = 1
        var nextSubscription = 0
        var listenKeys: [String: ListenKey] = [:]
        var keyByAccount: [AccountID: String] = [:]
        /// Events held back until then (`withhold`), with the connections they were for.
        var withheldUntil: Millis = 0
        var withheld: [(Int, String)] = []
        /// The next events are sent twice (`duplicate`) / the next two are swapped (`reorder`).
        var duplicateNext = 0
        var reorderNext = 0
        var heldForSwap: [(Int, String)] = []
        var eventsSent = 0
        var connectionsOpened = 0
    }

    let state = Mutex(State())
    let clock: @Sendable () -> Millis
    /// How long a listenKey lives without a keepalive (60 minutes on the real exchange).
    public let listenKeyValidity: Millis
    /// How long a connection lives (24 hours on the real exchange; short in tests).
    public let connectionLifetime: Duration
    public let pingInterval: Duration

    public init(clock: @escaping @Sendable () -> Millis, settings: StreamSettings = StreamSettings()) {
        self.clock = clock
        self.listenKeyValidity = settings.listenKeyValidityMs
        self.connectionLifetime = settings.connectionLifetime
        self.pingInterval = settings.pingInterval
    }

    // MARK: listenKeys

    /// `POST /fapi/v1/listenKey`: the account's active key, extended, or a new one.
    func createListenKey(account: AccountID) -> String {
        let now = clock()
        return state.withLock { s in
            if let key = s.keyByAccount[account], let entry = s.listenKeys[key], entry.expires > now {
                s.listenKeys[key]!.expires = now + listenKeyValidity
                return key
            }
            var bytes = [UInt8](repeating: 0, count: 32)
            var rng = SystemRandomNumberGenerator()
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
            let key = Data(bytes).base64EncodedString().replacingOccurrences(of: "/", with: "x").replacingOccurrences(of: "+", with: "y")
                .replacingOccurrences(of: "=", with: "")
            s.listenKeys[key] = ListenKey(account: account, expires: now + listenKeyValidity)
            s.keyByAccount[account] = key
            return key
        }
    }

    /// `PUT /fapi/v1/listenKey`: extends the account's key; false when it has none (-1125).
    func keepAlive(account: AccountID) -> Bool {
        let now = clock()
        return state.withLock { s in
            guard let key = s.keyByAccount[account], let entry = s.listenKeys[key], entry.expires > now else { return false }
            s.listenKeys[key]!.expires = now + listenKeyValidity
            return true
        }
    }

    /// `DELETE /fapi/v1/listenKey`: closes the account's key and its connections.
    func closeListenKey(account: AccountID) {
        state.withLock { s in
            guard let key = s.keyByAccount.removeValue(forKey: account) else { return }
            s.listenKeys[key] = nil
            for (id, c) in s.connections where c.listenKey == key {
                c.output.finish()
                s.connections[id] = nil
            }
        }
    }

    /// The account of a live listenKey.
    func account(listenKey: String) -> AccountID? {
        let now = clock()
        return state.withLock { s in s.listenKeys[listenKey].flatMap { $0.expires > now ? $0.account : nil } }
    }

    // MARK: Connections

    /// Opens a connection's outgoing stream; `register` it for an account's events.
    func open() -> (id: Int, frames: AsyncStream<String>, output: AsyncStream<String>.Continuation) {
        let (frames, output) = AsyncStream<String>.makeStream(bufferingPolicy: .unbounded)
        let id = state.withLock { s in
            s.nextConnection += 1
            s.connectionsOpened += 1
            return s.nextConnection
        }
        return (id, frames, output)
    }

    /// Starts sending an account's events of `product` to connection `id`; spot: returns the subscription id.
    @discardableResult
    func register(_ id: Int, account: AccountID, product: Product, listenKey: String?, output: AsyncStream<String>.Continuation) -> Int {
        state.withLock { s in
            let subscription = product == .spot ? s.nextSubscription : 0
            if product == .spot { s.nextSubscription += 1 }
            s.connections[id] = Connection(
                account: account,
                product: product,
                subscriptionID: product == .spot ? subscription : nil,
                listenKey: listenKey,
                output: output
            )
            return subscription
        }
    }

    /// Stops sending events to connection `id` (unsubscribed or closed).
    func unregister(_ id: Int) {
        _ = state.withLock { s in s.connections.removeValue(forKey: id) }
    }

    /// Connections currently carrying events, by product.
    public var connectionCount: [Product: Int] {
        state.withLock { s in Dictionary(grouping: s.connections.values, by: \.product).mapValues(\.count) }
    }

    public var eventsSent: Int { state.withLock { $0.eventsSent } }
    public var connectionsOpened: Int { state.withLock { $0.connectionsOpened } }

    // MARK: Faults

    /// Closes every stream connection at once.
    public func dropAll() {
        state.withLock { s in
            for c in s.connections.values { c.output.finish() }
            s.connections = [:]
        }
    }

    /// Expires every listenKey (futures connections get `listenKeyExpired` and are closed) and ends
    /// every spot subscription (`eventStreamTerminated`, then the connection is closed).
    public func expireAll() {
        let now = clock()
        state.withLock { s in
            for c in s.connections.values {
                let body: JSON =
                    c.product == .futures
                    ? .object([("e", .string("listenKeyExpired")), ("E", .int(now)), ("listenKey", .string(c.listenKey ?? ""))])
                    : .object([("e", .string("eventStreamTerminated")), ("E", .int(now))])
                c.output.yield(Self.frame(body, subscription: c.subscriptionID))
                c.output.finish()
            }
            s.connections = [:]
            s.listenKeys = [:]
            s.keyByAccount = [:]
        }
    }

    /// Holds every event back for `ms`, then sends them in order.
    public func withhold(ms: Int) {
        let until = clock() + Millis(ms)
        state.withLock { s in s.withheldUntil = max(s.withheldUntil, until) }
        Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(ms))
            self?.releaseWithheld()
        }
    }

    func releaseWithheld() {
        state.withLock { s in
            guard clock() >= s.withheldUntil else { return }
            let held = s.withheld
            s.withheld = []
            for (id, text) in held { Self.send(text, to: id, in: &s) }
        }
    }

    /// The next `count` events are each sent twice.
    public func duplicateNext(_ count: Int = 1) { state.withLock { $0.duplicateNext += count } }
    /// The next two events are sent in swapped order (`count` pairs).
    public func reorderNext(_ count: Int = 1) { state.withLock { $0.reorderNext += count } }

    // MARK: Events

    /// Publishes an order change (`previous`: the order before it, nil when it is new).
    func publish(_ order: SimOrder, previous: SimOrder?, spec: SymbolSpec?) {
        let now = clock()
        let event = Self.event(order, previous: previous, now: now)
        state.withLock { s in
            let targets = s.connections.filter { $0.value.account == order.account && $0.value.product == order.product }
            guard !targets.isEmpty else { return }
            for (id, c) in targets.sorted(by: { $0.key < $1.key }) {
                let text = Self.frame(event, subscription: c.subscriptionID)
                var copies = 1
                if s.duplicateNext > 0 {
                    s.duplicateNext -= 1
                    copies = 2
                }
                for _ in 0..<copies { Self.deliver(text, to: id, now: now, in: &s) }
            }
        }
    }

    static func deliver(_ text: String, to id: Int, now: Millis, in s: inout State) {
        if s.reorderNext > 0 {
            if s.heldForSwap.isEmpty {
                s.heldForSwap = [(id, text)]
                return
            }
            s.reorderNext -= 1
            let first = s.heldForSwap
            s.heldForSwap = []
            route(text, to: id, now: now, in: &s)
            for (heldID, heldText) in first { route(heldText, to: heldID, now: now, in: &s) }
            return
        }
        route(text, to: id, now: now, in: &s)
    }

    static func route(_ text: String, to id: Int, now: Millis, in s: inout State) {
        if now < s.withheldUntil {
            s.withheld.append((id, text))
            return
        }
        send(text, to: id, in: &s)
    }

    static func send(_ text: String, to id: Int, in s: inout State) {
        guard let c = s.connections[id] else { return }
        c.output.yield(text)
        s.eventsSent += 1
    }

    static func frame(_ event: JSON, subscription: Int?) -> String {
        guard let subscription else { return event.text }
        return JSON.object([("subscriptionId", .int(Int64(subscription))), ("event", event)]).text
    }

    /// The execution type of a change: NEW, TRADE, CANCELED, EXPIRED (REJECTED never rests).
    static func executionType(_ order: SimOrder, previous: SimOrder?) -> String {
        switch order.status {
        case .canceled: return "CANCELED"
        case .expired: return "EXPIRED"
        case .rejected: return "REJECTED"
        default: return order.executed > (previous?.executed ?? .zero) ? "TRADE" : "NEW"
        }
    }

    /// The event of one change: `executionReport` (spot), `ORDER_TRADE_UPDATE` (futures) or
    /// `ALGO_UPDATE` (futures conditional orders), with the fields of the official examples.
    static func event(_ o: SimOrder, previous: SimOrder?, now: Millis) -> JSON {
        let last = o.executed.subtracting(previous?.executed ?? .zero) ?? .zero
        let x = executionType(o, previous: previous)
        let avg = o.executed.isZero ? 0 : o.cumQuote / o.executed.doubleValue
        let lastPrice = last.isZero ? "0" : o.price.description
        if o.isAlgo {
            return .object([
                ("e", .string("ALGO_UPDATE")), ("T", .int(now)), ("E", .int(o.updateTime)),
                (
                    "o",
                    .object([
                        ("caid", .string(o.clientOrderID)), ("aid", .int(o.id)), ("at", .string("CONDITIONAL")), ("o", .string(o.type)),
                        ("s", .string(o.symbol)), ("S", .string(o.side.rawValue)), ("ps", .string(o.positionSide)), ("f", .string(o.timeInForce)),
                        ("q", .string(o.quantity.description)), ("X", .string(o.status.rawValue)), ("ai", .string("")),
                        ("ap", .string(String(avg))), ("aq", .string(o.executed.description)), ("act", .string("0")),
                        ("tp", .string(o.stopPrice.description)), ("p", .string(o.price.description)), ("V", .string("EXPIRE_MAKER")),
                        ("wt", .string("CONTRACT_PRICE")), ("pm", .string("NONE")), ("cp", .bool(false)), ("pP", .bool(false)),
                        ("R", .bool(o.reduceOnly)), ("tt", .int(0)), ("gtd", .int(0)), ("rm", .string("")),
                    ])
                ),
            ])
        }
        if o.product == .futures {
            return .object([
                ("e", .string("ORDER_TRADE_UPDATE")), ("E", .int(now)), ("T", .int(o.updateTime)),
                (
                    "o",
                    .object([
                        ("s", .string(o.symbol)), ("c", .string(o.clientOrderID)), ("S", .string(o.side.rawValue)), ("o", .string(o.type)),
                        ("f", .string(o.timeInForce)), ("q", .string(o.quantity.description)), ("p", .string(o.price.description)),
                        ("ap", .string(String(avg))), ("sp", .string(o.stopPrice.description)), ("x", .string(x)),
                        ("X", .string(o.status.rawValue)), ("i", .int(o.id)), ("l", .string(last.description)),
                        ("z", .string(o.executed.description)), ("L", .string(lastPrice)), ("N", .string("USDT")), ("n", .string("0")),
                        ("T", .int(o.updateTime)), ("t", .int(last.isZero ? 0 : now)), ("b", .string("0")), ("a", .string("0")),
                        ("m", .bool(false)), ("R", .bool(o.reduceOnly)), ("wt", .string("CONTRACT_PRICE")), ("ot", .string(o.type)),
                        ("ps", .string(o.positionSide)), ("cp", .bool(false)), ("rp", .string("0")), ("pP", .bool(false)),
                        ("si", .int(0)), ("ss", .int(0)), ("V", .string("EXPIRE_MAKER")), ("pm", .string("NONE")), ("gtd", .int(0)),
                    ])
                ),
            ])
        }
        return .object([
            ("e", .string("executionReport")), ("E", .int(now)), ("s", .string(o.symbol)), ("c", .string(o.clientOrderID)),
            ("S", .string(o.side.rawValue)), ("o", .string(o.type)), ("f", .string(o.timeInForce)), ("q", .string(o.quantity.description)),
            ("p", .string(o.price.description)), ("P", .string(o.stopPrice.description)), ("F", .string("0")), ("g", .int(-1)),
            ("C", .string(x == "CANCELED" ? o.clientOrderID : "")), ("x", .string(x)), ("X", .string(o.status.rawValue)),
            ("r", .string("NONE")), ("i", .int(o.id)), ("l", .string(last.description)), ("z", .string(o.executed.description)),
            ("L", .string(lastPrice)), ("n", .string("0")), ("N", .null), ("T", .int(o.updateTime)), ("t", .int(last.isZero ? -1 : now)),
            ("I", .int(now)), ("w", .bool(o.status.isOpen)), ("m", .bool(false)), ("M", .bool(false)), ("O", .int(o.time)),
            ("Z", .string(String(o.cumQuote))), ("Y", .string("0")), ("Q", .string("0")), ("W", .int(o.time)), ("V", .string("NONE")),
        ])
    }

    // MARK: The spot WebSocket API

    /// `userDataStream.subscribe.signature`: verifies `apiKey`, `timestamp`, optional `recvWindow`
    /// and the HMAC-SHA256 `signature` over the other parameters sorted by name.
    static func verifySubscription(
        params: [String: Any],
        secret: (String) -> String?,
        now: Millis
    ) -> Result<String, APIError> {
        guard let apiKey = params["apiKey"] as? String, !apiKey.isEmpty else { return .failure(.mandatory("apiKey")) }
        guard let secret = secret(apiKey) else { return .failure(.invalidAPIKey) }
        guard let timestamp = (params["timestamp"] as? NSNumber)?.int64Value else { return .failure(.mandatory("timestamp")) }
        guard let signature = params["signature"] as? String else { return .failure(.mandatory("signature")) }
        var recvWindow: Int64 = 5000
        if let value = params["recvWindow"] as? NSNumber {
            guard value.doubleValue <= 60_000 else { return .failure(.recvWindowTooLarge) }
            recvWindow = value.int64Value
        }
        let payload = params.filter { $0.key != "signature" }.sorted { $0.key < $1.key }.map { "\($0.key)=\(text($0.value))" }
            .joined(separator: "&")
        guard Signing.verify(signature: signature, secret: secret, payload: payload) else { return .failure(.badSignature) }
        if timestamp >= now + 1000 { return .failure(.timestampAhead) }
        if now - timestamp > recvWindow { return .failure(.timestampOutside) }
        return .success(apiKey)
    }

    static func text(_ value: Any) -> String {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        return "\(value)"
    }
}
