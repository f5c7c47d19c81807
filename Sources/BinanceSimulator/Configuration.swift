import SyncCore

/// The two products served on one port.
public enum Product: String, Sendable, Hashable, CaseIterable {
    /// `/api/v3`.
    case spot
    /// `/fapi/v1`.
    case futures

    public var market: Market { self == .spot ? .spot : .futures }
    public init(_ market: Market) { self = market == .spot ? .spot : .futures }
}

/// A tradable symbol with its filters, precisions and the price the simulator trades at.
public struct SymbolSpec: Sendable, Hashable {
    public var symbol: String
    public var baseAsset: String
    public var quoteAsset: String
    public var tickSize: Amount
    public var stepSize: Amount
    public var minQty: Amount
    public var maxQty: Amount
    public var minNotional: Amount
    /// Decimals in responses (futures `pricePrecision` / `quantityPrecision`; spot 8).
    public var pricePrecision: Int
    public var quantityPrecision: Int
    /// The price market orders fill at and limit orders are compared with.
    public var markPrice: Amount

    public init(
        symbol: String,
        tickSize: String = "0.01",
        stepSize: String = "0.001",
        minQty: String = "0.001",
        maxQty: String = "10000",
        minNotional: String = "5",
        pricePrecision: Int = 2,
        quantityPrecision: Int = 3,
        markPrice: String = "100"
    ) {
        self.symbol = symbol
        let quotes = ["USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB"]
        let quote = quotes.first { symbol.hasSuffix($0) && symbol.count > $0.count } ?? "USDT"
        self.quoteAsset = quote
        self.baseAsset = String(symbol.dropLast(quote.count))
        self.tickSize = Amount(tickSize)!
        self.stepSize = Amount(stepSize)!
        self.minQty = Amount(minQty)!
        self.maxQty = Amount(maxQty)!
        self.minNotional = Amount(minNotional)!
        self.pricePrecision = pricePrecision
        self.quantityPrecision = quantityPrecision
        self.markPrice = Amount(markPrice)!
    }

    /// Sensible defaults for a symbol: known majors get realistic prices.
    public static func standard(_ symbol: String) -> SymbolSpec {
        switch symbol {
        case "BTCUSDT":
            return SymbolSpec(
                symbol: symbol,
                tickSize: "0.1",
                stepSize: "0.001",
                minNotional: "5",
                pricePrecision: 1,
                quantityPrecision: 3,
                markPrice: "65000"
            )
        case "ETHUSDT":
            return SymbolSpec(
                symbol: symbol,
                tickSize: "0.01",
                stepSize: "0.001",
                minNotional: "5",
                pricePrecision: 2,
                quantityPrecision: 3,
                markPrice: "3500"
            )
        default:
            return SymbolSpec(
                symbol: symbol,
                tickSize: "0.0001",
                stepSize: "0.01",
                minQty: "0.01",
                minNotional: "5",
                pricePrecision: 4,
                quantityPrecision: 2,
                markPrice: "100"
            )
        }
    }
}

/// Request-weight limits per client IP and product (the real hosts count separately).
public struct RateLimits: Sendable, Hashable {
    /// Weight per window: spot 6000, futures 2400 per minute on the real exchange.
    public var spotWeight: Int
    public var futuresWeight: Int
    /// Window length in seconds (60 on the real exchange; shrink it in tests).
    public var windowSeconds: Int
    /// 429s within one window after which the IP is banned (418).
    public var violationsBeforeBan: Int
    /// Ban length in seconds (the real one: 2 minutes to 3 days).
    public var banSeconds: Int

    public init(spotWeight: Int = 6000, futuresWeight: Int = 2400, windowSeconds: Int = 60, violationsBeforeBan: Int = 5, banSeconds: Int = 120) {
        self.spotWeight = spotWeight
        self.futuresWeight = futuresWeight
        self.windowSeconds = windowSeconds
        self.violationsBeforeBan = violationsBeforeBan
        self.banSeconds = banSeconds
    }

    /// `1M` for 60 s, else `<n>S`: the suffix of `X-MBX-USED-WEIGHT-…`.
    public var intervalLabel: String { windowSeconds % 60 == 0 ? "\(windowSeconds / 60)M" : "\(windowSeconds)S" }
    /// `1 MINUTE`-style text for messages.
    var intervalText: String { windowSeconds % 60 == 0 ? "\(windowSeconds / 60) MINUTE" : "\(windowSeconds) SECOND" }
}

/// Faults, each a probability per signed request (0 disables it), drawn from a seeded generator.
public struct FaultSettings: Sendable, Hashable {
    /// HTTP 500 before the request is processed (nothing happened).
    public var serverError: Double = 0
    /// 503 "Unknown error…" *after* the request was applied (its outcome is unknown to the client).
    public var unknownAfterApply: Double = 0
    /// -1007 timeout after the request was applied.
    public var timeoutAfterApply: Double = 0
    /// The connection is closed without a response (before processing).
    public var dropConnection: Double = 0
    /// 429 with Retry-After regardless of weight.
    public var rateLimitStorm: Double = 0
    /// The response body is cut in half (after processing).
    public var truncateBody: Double = 0
    /// Added latency: fixed milliseconds plus a uniform random part up to `latencyJitterMs`.
    public var latencyMs: Int = 0
    public var latencyJitterMs: Int = 0
    /// The exchange's clock runs this many ms ahead of the host's (negative: behind).
    public var clockSkewMs: Int64 = 0
    /// Every signed request of these accounts fails with HTTP 500 (a listing that keeps failing).
    public var failingAccounts: Set<AccountID> = []
    /// Every signed request of these accounts is answered `slowMs` late (a listing past its deadline).
    public var slowAccounts: Set<AccountID> = []
    public var slowMs: Int = 0

    public init() {}

    /// Spreads `rate` evenly over the six failure kinds (for `--fault-rate`).
    public static func uniform(_ rate: Double) -> FaultSettings {
        var f = FaultSettings()
        let each = rate / 6
        f.serverError = each
        f.unknownAfterApply = each
        f.timeoutAfterApply = each
        f.dropConnection = each
        f.rateLimitStorm = each
        f.truncateBody = each
        return f
    }

    var anyFailure: Bool {
        serverError + unknownAfterApply + timeoutAfterApply + dropConnection + rateLimitStorm + truncateBody > 0
    }
}

/// Everything a simulator is built from.
public struct SimulatorConfiguration: Sendable {
    public var symbols: [SymbolSpec]
    public var limits: RateLimits
    public var faults: FaultSettings
    public var seed: UInt64
    public var streams: StreamSettings

    public init(
        symbols: [SymbolSpec] = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"].map(SymbolSpec.standard),
        limits: RateLimits = RateLimits(),
        faults: FaultSettings = FaultSettings(),
        seed: UInt64 = 1,
        streams: StreamSettings = StreamSettings()
    ) {
        self.symbols = symbols
        self.limits = limits
        self.faults = faults
        self.seed = seed
        self.streams = streams
    }
}

/// The user data streams' lifetimes, the real exchange's by default.
public struct StreamSettings: Sendable {
    /// A listenKey without a keepalive expires after this long (60 minutes).
    public var listenKeyValidityMs: Millis = 3_600_000
    /// A stream connection is closed by the exchange after this long (24 hours).
    public var connectionLifetime: Duration = .seconds(86_400)
    /// Server pings (spot every 20 s; futures every 3 minutes).
    public var pingInterval: Duration = .seconds(20)
    public init() {}
}
