import Metrics
import SyncCore

/// Plans request weight for one host (Binance counts per IP and host) so the limit is never
/// exceeded: each request reserves its weight before it is sent and waits for the next window when
/// the budget (a fraction of the limit) is spent. Learns the limit and window from `exchangeInfo`
/// and the usage from `X-MBX-USED-WEIGHT-<interval>` (which also counts other processes on the IP).
public actor WeightGovernor {
    public let host: String
    let clock: ClientClock
    let budgetFraction: Double
    private(set) var limit: Int
    private(set) var windowMs: Millis
    private(set) var windowStart: Millis = 0
    private(set) var used = 0
    private(set) var pausedUntil: Millis = 0
    private(set) var bannedUntil: Millis = 0
    /// Server time minus local time, kept by the time sync.
    var offset: Millis = 0

    let usedGauge: Gauge
    let waits: Counter
    let waitTime: Metrics.Timer
    let throttled: Counter

    public init(host: String, limit: Int, windowMs: Millis = 60_000, budgetFraction: Double = 0.8, clock: ClientClock) {
        self.host = host
        self.limit = limit
        self.windowMs = windowMs
        self.budgetFraction = budgetFraction
        self.clock = clock
        let dimensions = [("host", host)]
        usedGauge = Gauge(label: "ordersync_exchange_weight_used", dimensions: dimensions)
        waits = Counter(label: "ordersync_exchange_weight_waits_total", dimensions: dimensions)
        waitTime = Metrics.Timer(label: "ordersync_exchange_weight_wait_seconds", dimensions: dimensions)
        throttled = Counter(label: "ordersync_exchange_throttled_total", dimensions: dimensions)
    }

    var budget: Int { max(1, Int(Double(limit) * budgetFraction)) }
    /// What cancels may use: the read budget plus most of the headroom above it (95% of the limit).
    var urgentBudget: Int { max(budget, Int(Double(limit) * 0.95)) }
    var serverNow: Millis { clock.now() + offset }

    /// Sets the limit and window (from `exchangeInfo`'s REQUEST_WEIGHT entry).
    public func learn(limit: Int, windowMs: Millis) {
        self.limit = limit
        if windowMs != self.windowMs {
            self.windowMs = windowMs
            windowStart = 0
        }
    }

    func setOffset(_ offset: Millis) { self.offset = offset }

    private func roll(_ now: Millis) {
        let start = now - ((now % windowMs) + windowMs) % windowMs
        if start != windowStart {
            windowStart = start
            used = 0
        }
    }

    /// Waits until `weight` fits in the budget (`urgent`: the cancels' ceiling), then reserves it.
    /// Throws `.banned` while the host is banned. Re-checks its state after every wait (other
    /// requests may have run meanwhile).
    public func acquire(_ weight: Int, urgent: Bool = false) async throws(BinanceError) {
        try await wait(weight, urgent: urgent, reserve: true)
    }

    /// Waits until `weight` would fit in the read budget, without reserving it: a pass calls this
    /// before it takes an account's lock, so it does not wait for a window while holding the lock
    /// a cancel needs. Returns at once while the host is banned (the request will say so).
    public func waitForRoom(_ weight: Int) async {
        try? await wait(weight, urgent: false, reserve: false)
    }

    /// Whether `waitForRoom(weight)` would return at once (a ban too: the request will say so).
    public func hasRoom(_ weight: Int) -> Bool {
        let now = serverNow
        return bannedUntil > now || resumeTime(weight, ceiling: budget, now: now) == nil
    }

    /// When `weight` more may go under `ceiling`: nil now, else the end of a 429 pause or the
    /// next window (with a little margin for clock error).
    private func resumeTime(_ weight: Int, ceiling: Int, now: Millis) -> Millis? {
        roll(now)
        if pausedUntil > now { return pausedUntil }
        if weight > 0, used + weight > ceiling { return windowStart + windowMs + 50 }
        return nil
    }

    private func wait(_ weight: Int, urgent: Bool, reserve: Bool) async throws(BinanceError) {
        let ceiling = urgent ? urgentBudget : budget
        var waited: Millis = 0
        while true {
            let now = serverNow
            if bannedUntil > now {
                throw BinanceError(.banned, code: -1003, "\(host) is banned until \(UTC.iso8601(bannedUntil))", until: bannedUntil)
            }
            guard let resume = resumeTime(weight, ceiling: ceiling, now: now) else {
                guard reserve else { return }
                used += weight
                usedGauge.record(used)
                if waited > 0 { waitTime.recordMilliseconds(waited) }
                return
            }
            waits.increment()
            let pause = resume - now
            waited += pause
            do { try await clock.sleep(pause) } catch { throw BinanceError(.transport, "cancelled while waiting for request weight") }
        }
    }

    /// Learns from a response: the used weight the exchange reports, a 429 pause or a 418 ban.
    public func observe(status: Int, headers: [String: String]) {
        let now = serverNow
        roll(now)
        for (name, value) in headers where name.hasPrefix("x-mbx-used-weight-") {
            guard let reported = Int(value) else { continue }
            if let interval = Self.intervalMs(String(name.dropFirst("x-mbx-used-weight-".count))), interval != windowMs {
                windowMs = interval
                roll(now)
            }
            used = max(used, reported)
            usedGauge.record(used)
        }
        let retryAfter = headers["retry-after"].flatMap(Int64.init).map { $0 * 1000 }
        if status == 429 {
            throttled.increment()
            pausedUntil = max(pausedUntil, now + (retryAfter ?? (windowStart + windowMs - now)))
        } else if status == 418 {
            throttled.increment()
            bannedUntil = max(bannedUntil, now + (retryAfter ?? 120_000))
        }
    }

    /// `1M` → 60,000; `10S` → 10,000; `1H`, `1D` likewise.
    static func intervalMs(_ suffix: String) -> Millis? {
        guard let unit = suffix.last, let n = Int64(suffix.dropLast()), n > 0 else { return nil }
        switch unit.uppercased() {
        case "S": return n * 1000
        case "M": return n * 60_000
        case "H": return n * 3_600_000
        case "D": return n * 86_400_000
        default: return nil
        }
    }

    /// The state, for tests and reports.
    public var snapshot: (used: Int, limit: Int, windowMs: Millis, pausedUntil: Millis, bannedUntil: Millis) {
        (used, limit, windowMs, pausedUntil, bannedUntil)
    }
}
