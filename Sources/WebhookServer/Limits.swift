import SyncCore

/// First results of recent requests, so a duplicate delivery returns them instead of acting twice.
actor ReplayCache {
    enum Reply: Sendable {
        case success([UInt8])
        case failure(String)
    }
    private var entries: [String: (task: Task<Reply, Never>, at: Millis)] = [:]

    /// The reply for `key`: the first one within `window` (waiting for it if it is still being
    /// made), or a new one from `make`.
    func reply(for key: String, now: Millis, window: Millis, make: @escaping @Sendable () async -> Reply) async -> (Reply, Bool) {
        entries = entries.filter { now - $0.value.at < window }
        if let entry = entries[key] { return (await entry.task.value, true) }
        let task = Task { await make() }
        entries[key] = (task, now)
        let reply = await task.value
        if case .failure = reply { entries[key] = nil }  // a failure is not a result to replay
        return (reply, false)
    }
}

/// A token bucket per source address.
actor RateLimiter {
    let perSecond: Double
    let burst: Double
    private var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]

    init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = Double(max(1, burst))
    }

    func allow(_ source: String, now: ContinuousClock.Instant) -> Bool {
        if buckets.count > 10_000 { buckets = buckets.filter { now - $0.value.at < .seconds(60) } }
        var bucket = buckets[source] ?? (burst, now)
        let elapsed = now - bucket.at
        bucket.tokens = min(burst, bucket.tokens + perSecond * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        bucket.at = now
        guard bucket.tokens >= 1 else {
            buckets[source] = bucket
            return false
        }
        bucket.tokens -= 1
        buckets[source] = bucket
        return true
    }
}
