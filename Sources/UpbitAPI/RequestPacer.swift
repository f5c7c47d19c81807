import Foundation
import SyncCore
import Synchronization

/// A per-second request limit kept on the client's side so that a pass never meets a 429 — Upbit's
/// per account (EXCHANGES.md §2.3: group `default`, 30 per second), Bithumb's per address and
/// category (§3.3: 140 per second, batch cancels 20): at most
/// `perSecond` requests in any `window` (a sliding window a little longer than a second, since
/// the client's seconds are not the server's and latency varies), and none before the next second
/// once the server's `Remaining-Req` says `sec=0` or it answers 429.
///
/// Not an actor: a request's `admit` and `observe` would be four executor hops each time, for a few
/// comparisons; the state sits behind a `Mutex` and only a request that must wait suspends.
public final class RequestPacer: Sendable {
    public let perSecond: Int
    let window: Duration
    let clock = ContinuousClock()
    private struct State {
        /// Send times of the last `perSecond` requests, oldest first.
        var sent: [ContinuousClock.Instant] = []
        var pausedUntil: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    public init(perSecond: Int = 30, window: Duration = .milliseconds(1100)) {
        self.perSecond = max(1, perSecond)
        self.window = window
    }

    /// When `count` more requests may go: now, or when enough of the window has passed.
    private func earliest(_ count: Int, _ s: inout State, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        s.sent.removeAll { $0 + window <= now }
        var at = now
        let excess = s.sent.count + min(count, perSecond) - perSecond
        if excess > 0 { at = max(at, s.sent[excess - 1] + window) }
        if let pausedUntil = s.pausedUntil { at = max(at, pausedUntil) }
        return at
    }

    /// Waits for room for one request and takes it.
    /// A cancelled task waits no longer (its request then goes, or is never made).
    public func admit() async {
        while true {
            let cancelled = Task.isCancelled
            let wait = state.withLock { s -> ContinuousClock.Instant? in
                let now = clock.now
                let at = earliest(1, &s, now: now)
                guard at <= now || cancelled else { return at }
                s.sent.append(now)
                return nil
            }
            guard let wait else { return }
            try? await Task.sleep(until: wait, clock: clock)
        }
    }

    /// Returns when `count` requests would fit (without taking them), or when the task is cancelled.
    public func waitForRoom(_ count: Int) async {
        while true {
            let now = clock.now
            let at = state.withLock { earliest(count, &$0, now: now) }
            if at <= now || Task.isCancelled { return }
            try? await Task.sleep(until: at, clock: clock)
        }
    }

    /// Whether `count` requests would fit now.
    public func hasRoom(_ count: Int) -> Bool {
        let now = clock.now
        return state.withLock { earliest(count, &$0, now: now) } <= now
    }

    /// What an answer said about the limit: `sec` remaining this second (nil: no header), or a 429.
    public func observe(remaining: Int?, refused: Bool) {
        guard refused || remaining == 0 else { return }
        let until = clock.now + .seconds(1)
        state.withLock { s in s.pausedUntil = max(s.pausedUntil ?? until, until) }
    }

    /// `Remaining-Req: group=default; min=1800; sec=29` → 29.
    public static func remaining(_ header: String?) -> Int? {
        guard let header else { return nil }
        for part in header.utf8.split(separator: UInt8(ascii: ";")) {
            let pair = part.split(separator: UInt8(ascii: "="), maxSplits: 1)
            guard pair.count == 2 else { continue }
            let key = pair[0].drop { $0 == 0x20 }
            if key.elementsEqual("sec".utf8) { return Int(String(decoding: pair[1].filter { $0 != 0x20 }, as: UTF8.self)) }
        }
        return nil
    }
}
