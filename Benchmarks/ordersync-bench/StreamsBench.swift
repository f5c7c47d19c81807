import AsyncHTTPClient
import Foundation
import NIOCore
import OrderStore
import SyncCore

/// User data streams against polling (issue #14), side by side in one run, the way a user meets them:
/// `ordersync load`, `ordersync simulate` and `ordersync serve` as their own processes (the release
/// binary given by `--binary`), this process the market and the observer. A Binance futures world of
/// A accounts × N orders with their rows; the same E random order events (a fill, a partial fill or a
/// cancel from elsewhere, each on its own order, by the simulator's control API at R events per
/// second, one seed) are made twice:
///
///   streams: `serve` with streams on, every account on streams (`/healthz`) before the first event;
///   polling: `serve` with streams off at the default interval (30 s), its first pass done.
///
/// An event's latency is the time from the exchange's update time (the simulator's clock) to the
/// database's record of it (serve's clock, the same machine's): `sync_order_history.closed_at` for a
/// fill or cancel, `open_orders.updated_at` for a partial fill. With polling this is the time to
/// detect. Then, the events over, the steady state's request weight (the simulator's count of weight
/// charged) over a window of `--window` seconds (default 300: a whole stream interval, a whole sweep
/// cycle of polling), per minute, in each mode.
enum StreamsBench {
    struct Event {
        var order: Int
        var action: String
        var updateTime: Millis = 0
    }

    static func main(_ arguments: [String]) async {
        let values = flagValues(arguments[...])
        let accounts = Int(values["--accounts"] ?? "1000") ?? 0
        let orders = Int(values["--orders"] ?? "20") ?? 0
        let events = Int(values["--events"] ?? "10000") ?? 0
        let rate = Double(values["--rate"] ?? "200") ?? 0
        let window = Int(values["--window"] ?? "300") ?? 0
        let latency = Int(values["--latency-ms"] ?? "50") ?? -1
        let seed = UInt64(values["--seed"] ?? "14") ?? 0
        let modes = (values["--modes"] ?? "streams,polling").split(separator: ",").map(String.init)
        guard let binary = values["--binary"], accounts > 0, orders > 0, events > 0, events <= accounts * orders, rate > 0, window > 0,
            latency >= 0, modes.allSatisfy({ ["streams", "polling"].contains($0) })
        else {
            fail(
                "usage: ordersync-bench streams --binary PATH [--accounts 1000] [--orders 20] [--events 10000 (at most accounts × orders)] [--rate 200] [--window 300] [--latency-ms 50] [--seed 14] [--modes streams,polling]"
            )
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else { fail("--binary \(binary): not an executable") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-streams-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenario = dir.appendingPathComponent("streams.json").path
        FanoutBench.writeScenario(scenario, accounts: accounts, orders: orders)
        print(
            "streams: \(accounts) Binance futures accounts × \(orders) orders, \(events) events (fill, partial fill, cancel from elsewhere) at \(Int(rate))/s, seed \(seed); \(latency) ms REST latency; weight over \(window) s; SQLite; binary \(binary)"
        )

        // The events, the same in both modes: distinct orders of the public strategy, random actions.
        var rng = SeededGenerator(seed: seed)
        var pool = (1...accounts).flatMap { a in (0..<orders).map { a * 1000 + $0 } }
        pool.shuffle(using: &rng)
        let plan = pool.prefix(events).map { Event(order: $0, action: ["fill", "partial_fill", "cancel"][Int.random(in: 0..<3, using: &rng)]) }

        var results: [(mode: String, latencies: [Double], missing: Int, weightPerMinute: Double, note: String)] = []
        for mode in modes {
            let streams = mode == "streams"
            let config = dir.appendingPathComponent("\(mode).toml").path
            // The defaults but streams on or off; the burst for this observer's /healthz and /metrics.
            let toml = "[streams]\nenabled = \(streams)\n[webhook]\nburst = 1000\nrate_per_second = 1000\n"
            do { try toml.write(toFile: config, atomically: true, encoding: .utf8) } catch { fail("cannot write \(config)") }
            let db = dir.appendingPathComponent("\(mode).sqlite").path
            let load = Child.run(binary, ["load", "--db", db, "--scenario", scenario])
            guard load.status == 0 else { fail("ordersync load: \(load.output)") }
            // The weight limit is raised so that the first pass over every account is not a wait for
            // windows; the weight charged is still counted, which is what is measured.
            let sim = Child(
                binary,
                ["simulate", "--port", "0", "--scenario", scenario, "--latency-ms", "\(latency)", "--weight-limit", "100000000"]
            )
            defer { sim.stop() }
            guard let simLine = await sim.line(containing: "simulator listening on ") else { fail("simulator did not start: \(sim.output)") }
            let simulator = FanoutBench.url(in: simLine)
            let serve = Child(
                binary,
                ["serve", "--config", config, "--db", db, "--listen", "127.0.0.1:0", "--futures-url", simulator, "--spot-url", simulator]
            )
            defer { serve.stop() }
            guard let line = await serve.line(containing: "webhook listening on ") else { fail("serve did not start: \(serve.output)") }
            let webhook = FanoutBench.url(in: line)
            let store: OrderDatabase
            do { store = try await OrderDatabase.open(try DatabaseLocation(db), maxConnections: 1, migrate: false) } catch {
                fail("cannot open \(db): \(error)")
            }
            // Ready: the first scheduled pass over every account finished (it staggers its accounts
            // over half the interval), and with streams every account on them.
            let ready = ContinuousClock.now
            await until(600, "serve ready (\(mode))", serve) {
                guard
                    let finished = try? await store.rows("SELECT id FROM sync_runs WHERE trigger = 'schedule' AND status <> 'running'"),
                    !finished.isEmpty
                else { return false }
                guard streams else { return true }
                let health = await FanoutBench.get(webhook + "/healthz") as? [String: Any]
                return ((health?["streams"] as? [String: Any])?["accounts_on_streams"] as? Int) == accounts
            }
            print(
                String(
                    format: "  %@: ready in %.1f s (%@)",
                    mode,
                    ClientBench.seconds(ContinuousClock.now - ready),
                    streams ? "first pass done, every account on streams and resynced" : "first pass done"
                )
            )

            // The events, paced at the rate; each one's update time from the simulator's answer.
            var done = plan
            let started = ContinuousClock.now
            await withTaskGroup(of: (Int, Millis).self) { group in
                for (i, event) in plan.enumerated() {
                    let at = started + .milliseconds(Int64(Double(i) * 1000 / rate))
                    if at > ContinuousClock.now { try? await Task.sleep(until: at) }
                    group.addTask {
                        let account = event.order / 1000
                        let quantity = event.action == "partial_fill" ? #","quantity":"0.004""# : ""
                        let (status, body) = await FanoutBench.post(
                            simulator + "/_sim/act",
                            #"{"account_id":\#(account),"market":"FUTURES","order_id":\#(event.order),"action":"\#(event.action)"\#(quantity)}"#
                        )
                        guard status == 200, let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                            let time = json["update_time"] as? Int
                        else { fail("act \(event.order) \(event.action): HTTP \(status) \(String(decoding: body, as: UTF8.self))") }
                        return (i, Millis(time))
                    }
                }
                for await (i, time) in group { done[i].updateTime = time }
            }
            let sent = ClientBench.seconds(ContinuousClock.now - started)

            // Every event in the database (or the deadline: ten intervals after the last).
            var recorded: [Int: Millis] = [:]
            let deadline = ContinuousClock.now + .seconds(300)
            while recorded.count < done.count && ContinuousClock.now < deadline {
                recorded = await record(store, done)
                if recorded.count < done.count { try? await Task.sleep(for: .milliseconds(500)) }
            }
            let latencies = done.compactMap { e in recorded[e.order].map { Double(max(0, $0 - e.updateTime)) } }.sorted()
            print(
                String(
                    format: "  %@: %d events sent in %.1f s; %d in the database%@",
                    mode,
                    done.count,
                    sent,
                    recorded.count,
                    recorded.count < done.count ? " (\(done.count - recorded.count) not within 300 s)" : ""
                )
            )

            // The steady state's weight: the simulator's count at both ends of the window.
            let before = await weight(simulator)
            try? await Task.sleep(for: .seconds(window))
            let after = await weight(simulator)
            let perMinute = (after.weight - before.weight) / Double(window) * 60
            let requests = after.requests.filter { $0.value != before.requests[$0.key] }.sorted { $0.key < $1.key }
            var note = "; requests " + requests.map { "\($0.key) \($0.value - (before.requests[$0.key] ?? 0))" }.joined(separator: ", ")
            if streams, let metrics = await text(webhook + "/metrics") {
                let gaps = metrics.split(separator: "\n").filter { $0.hasPrefix("ordersync_stream_gaps_total{") }.compactMap {
                    $0.split(separator: " ").last
                }
                let stale = metrics.split(separator: "\n").filter {
                    $0.hasPrefix("ordersync_stream_events_total{") && $0.contains("outcome=\"stale\"")
                }
                note += "; gaps \(gaps.isEmpty ? "0" : gaps.joined(separator: "+")), stale-event series \(stale.count)"
            }
            print(String(format: "  %@: steady weight %.0f per minute over %d s%@", mode, perMinute, window, note))
            await store.close()
            results.append((mode, latencies, done.count - recorded.count, perMinute, note))
        }

        func pct(_ xs: [Double], _ p: Double) -> Double { xs.isEmpty ? .nan : xs[min(xs.count - 1, Int(Double(xs.count) * p))] }
        var line = "[streams] event→DB"
        for r in results {
            line += String(
                format: " — %@: p50 %.0f ms, p99 %.0f ms, max %.0f ms%@",
                r.mode == "streams" ? "streams" : "polling (time to detect, 30 s interval)",
                pct(r.latencies, 0.5),
                pct(r.latencies, 0.99),
                r.latencies.last ?? .nan,
                r.missing > 0 ? " (\(r.missing) not detected)" : ""
            )
        }
        if results.count == 2 {
            line += String(
                format: "; steady weight per minute: streams %.0f, polling %.0f = %.1f%% (target ≤ 10%%); p99 target ≤ 250 ms",
                results[0].weightPerMinute,
                results[1].weightPerMinute,
                100 * results[0].weightPerMinute / results[1].weightPerMinute
            )
        }
        print(line)
    }

    /// When each event's order reached the database: closed (history) or its partial fill written.
    static func record(_ store: OrderDatabase, _ events: [Event]) async -> [Int: Millis] {
        var out: [Int: Millis] = [:]
        guard let closed = try? await store.rows("SELECT exchange_order_id, closed_at FROM sync_order_history"),
            let partial = try? await store.rows("SELECT exchange_order_id, updated_at FROM open_orders WHERE filled_quantity > 0")
        else { return out }
        var closedAt: [Int: Millis] = [:]
        for row in closed { if let id = row.text(0).flatMap({ Int($0) }), let at = row.int(1) { closedAt[id] = at } }
        var updatedAt: [Int: Millis] = [:]
        for row in partial { if let id = row.text(0).flatMap({ Int($0) }), let at = row.text(1).flatMap(UTC.parse) { updatedAt[id] = at } }
        for e in events {
            if e.action == "partial_fill" {
                if let at = updatedAt[e.order] ?? closedAt[e.order] { out[e.order] = at }
            } else if let at = closedAt[e.order] {
                out[e.order] = at
            }
        }
        return out
    }

    /// The futures weight the simulator has charged so far, and its requests by endpoint.
    static func weight(_ simulator: String) async -> (weight: Double, requests: [String: Int]) {
        guard let stats = await FanoutBench.get(simulator + "/_sim/stats") as? [String: Any], let weight = stats["weight"] as? [String: Any],
            let futures = weight["FUTURES"] as? Int ?? weight["futures"] as? Int
        else { fail("cannot read the simulator's weight") }
        return (Double(futures), stats["requests"] as? [String: Int] ?? [:])
    }

    static func text(_ url: String) async -> String? {
        guard let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30)),
            let body = try? await response.body.collect(upTo: 1 << 26)
        else { return nil }
        return String(buffer: body)
    }

    static func until(_ seconds: Int, _ what: String, _ child: Child, _ condition: () async -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !(await condition()) {
            guard ContinuousClock.now < deadline else { fail("\(what): not within \(seconds) s: \(child.output.suffix(2000))") }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    static func fail(_ message: String) -> Never { FanoutBench.fail(message) }
}
