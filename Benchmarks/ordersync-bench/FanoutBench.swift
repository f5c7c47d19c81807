import AsyncHTTPClient
import BinanceAPI
import Foundation
import NIOCore
import OrderStore
import OriginKeys
import Scenarios
import SyncCore
import Synchronization
import UpbitAPI

/// CANCEL_ALL_ORDER fan-out (issues #6, #16) measured the way a user meets it: a public strategy
/// with S subscriber accounts × N open futures orders, plus a second strategy on half of those
/// accounts that must survive, at L ms simulated latency. Each measurement starts from nothing:
/// `ordersync load` writes a fresh database, `ordersync simulate` and `ordersync serve` run as
/// their own processes (the release binary given by `--binary`), and this process is the client.
///
///   between passes: `serve`'s first pass done, then one HTTP CANCEL_ALL_ORDER, timed from request
///                   to response.
///   during a pass:  the same, sent while a pass over all S accounts (a RECONCILE webhook with the
///                   owner's token) is running; the pass must still be running when the cancel is sent.
///   seed Phase 1:   rows selected from the DB per link, accounts one after another, one
///                   DELETE /fapi/v1/order per order (the seed's fix), against the same simulator.
///   seed Phase 2:   the same with 10 accounts at a time (the seed's planned ThreadPoolExecutor).
/// The simulator's weight limit is raised so that neither side waits for a window: the figure is
/// about request structure, not the weight budget.
enum FanoutBench {
    static func main(_ arguments: [String]) async {
        let values = flagValues(arguments[...])
        let accounts = Int(values["--accounts"] ?? "100") ?? 0
        let orders = Int(values["--orders"] ?? "20") ?? 0
        let latency = Int(values["--latency-ms"] ?? "50") ?? 0
        let runs = Int(values["--runs"] ?? "5") ?? 0
        let phase1Runs = Int(values["--phase1-runs"] ?? "1") ?? 0
        let phase2Runs = Int(values["--phase2-runs"] ?? "3") ?? 0
        // binary: Binance futures; upbit: Upbit spot (its accounts paced per account by its limit).
        let upbit = values["--exchange"] == "upbit"
        guard accounts > 1, orders > 0, runs > 0, latency >= 0, let binary = values["--binary"],
            ["binance", "upbit"].contains(values["--exchange"] ?? "binance")
        else {
            fail(
                "usage: ordersync-bench fanout --binary PATH [--exchange binance|upbit] [--accounts 100] [--orders 20] [--latency-ms 50] [--runs 5] [--phase1-runs 1] [--phase2-runs 3] [--pg-admin URL] [--pool N]"
            )
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else { fail("--binary \(binary): not an executable") }
        // --pg-admin URL: each measurement on a new PostgreSQL database created through that URL.
        let pgAdmin = values["--pg-admin"]
        let pool = values["--pool"].flatMap { Int($0) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-fanout-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenario = dir.appendingPathComponent("fanout.json").path
        writeScenario(scenario, accounts: accounts, orders: orders, upbit: upbit)
        let config = dir.appendingPathComponent("ordersync.toml").path
        // One long interval: the scheduled passes are the first one only; the during-a-pass case
        // starts its pass itself. The burst lets the two requests of that case in at once.
        let toml =
            "[reconcile]\ninterval_seconds = 3600\nspread = 0.0\n[webhook]\nburst = 100\n"
            + (pool.map { "[database]\nmax_connections = \($0)\n" } ?? "")
        do { try toml.write(toFile: config, atomically: true, encoding: .utf8) } catch { fail("cannot write \(config)") }
        let survivors = (accounts / 2) * 5
        print(
            "fanout: public strategy on \(accounts) \(upbit ? "Upbit" : "Binance futures") accounts × \(orders) orders (\(accounts * orders)), a second strategy with \(survivors) orders on \(accounts / 2) of them, \(latency) ms latency"
        )
        print("database: \(pgAdmin == nil ? "SQLite (temporary files)" : "PostgreSQL (a new database per measurement)"); binary \(binary)")

        var n = 0
        func database() async -> String {
            n += 1
            guard let admin = pgAdmin else { return dir.appendingPathComponent("db-\(n).sqlite").path }
            let name = "ordersync_fanout_\(getpid())_\(n)"
            do {
                let db = try await OrderDatabase.open(try DatabaseLocation(admin), maxConnections: 1, migrate: false)
                _ = try await db.rows("CREATE DATABASE \(name)")
                await db.close()
            } catch { fail("creating \(name): \(error)") }
            guard admin.hasSuffix("/postgres") else { fail("--pg-admin must name the postgres database") }
            return String(admin.dropLast("postgres".count)) + name
        }
        /// A fresh database with the scenario loaded, and the simulator running on it.
        func world() async -> (db: String, simulator: Child, url: String) {
            let db = await database()
            let load = Child.run(binary, ["load", "--db", db, "--scenario", scenario])
            guard load.status == 0 else { fail("ordersync load: \(load.output)") }
            let sim = Child(
                binary,
                ["simulate", "--port", "0", "--scenario", scenario, "--latency-ms", "\(latency)"]
                    + (upbit ? ["--exchange", "upbit"] : ["--weight-limit", "100000000"])
            )
            guard let line = await sim.line(containing: "simulator listening on ") else { fail("simulator did not start: \(sim.output)") }
            return (db, sim, url(in: line))
        }
        /// Checks that the public strategy's orders are gone and the other strategy's survived.
        func check(_ simulatorURL: String, _ label: String) async {
            guard let truth = await get(simulatorURL + "/_sim/truth") as? [[String: Any]],
                let stats = await get(simulatorURL + "/_sim/stats") as? [String: Any]
            else { fail("\(label): cannot read the simulator's truth") }
            let open = truth.filter { ["NEW", "PARTIALLY_FILLED", "wait", "watch"].contains(($0["status"] ?? $0["state"]) as? String ?? "") }
            let wide = upbit ? ((stats["wide_cancels"] as? Int) ?? -1) : ((stats["wide_cancels"] as? [String: Any]) ?? [:]).count
            let refused = upbit ? ((stats["rate_limited"] as? Int) ?? -1) : 0
            if open.count != survivors || open.contains(where: { ($0["price"] as? String) != "1000" }) || wide != 0 || refused != 0 {
                fail("\(label): \(open.count) orders open (expected the \(survivors) of the second strategy), wide cancels \(wide), 429s \(refused)")
            }
        }
        let cancelBody =
            upbit
            ? #"{"group_name": "fanout-public", "exchange": "UPBIT", "market_type": "SPOT", "order_type": "CANCEL_ALL_ORDER", "token": "fan-owner"}"#
            : #"{"group_name": "fanout-public", "exchange": "BINANCE", "market_type": "FUTURES", "order_type": "CANCEL_ALL_ORDER", "token": "fan-owner"}"#
        let reconcileBody = #"{"group_name": "fanout-public", "order_type": "RECONCILE", "token": "fan-owner"}"#

        /// One measurement through `serve`: its first pass done, then the cancel (during a pass: sent
        /// once a RECONCILE over every account has been running for `passLead` ms).
        func ours(duringPass: Bool, run: Int) async -> Double {
            let (db, sim, simulatorURL) = await world()
            defer { sim.stop() }
            let serve = Child(
                binary,
                ["serve", "--config", config, "--db", db, "--listen", "127.0.0.1:0"]
                    + (upbit ? ["--upbit-url", simulatorURL] : ["--futures-url", simulatorURL, "--spot-url", simulatorURL])
            )
            defer { serve.stop() }
            guard let line = await serve.line(containing: "webhook listening on ") else { fail("serve did not start: \(serve.output)") }
            let webhook = url(in: line)
            // The first pass is done when /healthz names it.
            let deadline = ContinuousClock.now + .seconds(120)
            while ((await get(webhook + "/healthz") as? [String: Any])?["last_pass_at"] as? String) == nil {
                guard ContinuousClock.now < deadline else { fail("serve's first pass did not finish: \(serve.output)") }
                try? await Task.sleep(for: .milliseconds(20))
            }
            var pass: Task<(Double, Int), Never>?
            let passStarted = ContinuousClock.now
            if duringPass {
                pass = Task {
                    let (status, _) = await post(webhook + "/api/webhook", reconcileBody)
                    return (ClientBench.seconds(ContinuousClock.now - passStarted) * 1000, status)
                }
                try? await Task.sleep(for: .milliseconds(passLead))
            }
            let cpu0 = (serve.cpuMs, sim.cpuMs)
            let start = ContinuousClock.now
            let (status, body) = await post(webhook + "/api/webhook", cancelBody)
            let ms = ClientBench.seconds(ContinuousClock.now - start) * 1000
            let cpu = (serve.cpuMs - cpu0.0, sim.cpuMs - cpu0.1)
            guard status == 200 else { fail("webhook answered \(status): \(String(decoding: body, as: UTF8.self))") }
            var note = ""
            if let pass {
                let (passMs, passStatus) = await pass.value
                let sentAt = ClientBench.seconds(start - passStarted) * 1000
                guard passStatus == 200 else { fail("RECONCILE answered \(passStatus)") }
                // The cancel must have been sent while the pass was still running.
                guard passMs > sentAt else {
                    fail(String(format: "the pass (%.0f ms) ended before the cancel was sent (%.0f ms in)", passMs, sentAt))
                }
                note = String(format: " (sent %.0f ms into a %.0f ms pass)", sentAt, passMs)
            }
            await check(simulatorURL, "ordersync")
            print(
                String(
                    format: "  ordersync %@ run %d: %.1f ms%@; CPU meanwhile: serve %.0f ms, simulator %.0f ms",
                    duringPass ? "during a pass" : "between passes",
                    run,
                    ms,
                    note,
                    cpu.0,
                    cpu.1
                )
            )
            return ms
        }

        func seed(parallel: Int, label: String) async -> Double {
            if upbit { return await originWay(parallel: parallel, label: label) }
            let (db, sim, simulatorURL) = await world()
            defer { sim.stop() }
            let session = BinanceSession(
                configuration: ClientConfiguration(baseURL: simulatorURL),
                transport: AsyncHTTPTransport(maxConnectionsPerHost: 64)
            )
            let rows: [(AccountClient, [OpenOrderRow])]
            do {
                let store = try await OrderDatabase.open(try DatabaseLocation(db), migrate: false)
                let access = try await store.strategyAccess(groupName: "fanout-public")!
                var list: [(AccountClient, [OpenOrderRow])] = []
                for link in access.links {
                    let mine = try await store.openOrders(links: [link.link])
                    let n = link.account.rawValue
                    list.append((session.account(Credentials(apiKey: "fan-key-\(n)", secret: Secret("fan-secret-\(n)"))), mine))
                }
                await store.close()
                rows = list
            } catch { fail("\(error)") }
            _ = await rows[0].0.openOrders(.futures, symbol: "BTCUSDT")  // learn limits and sync time, outside the clock
            let start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                var next = 0
                func launch() {
                    let (client, mine) = rows[next]
                    next += 1
                    group.addTask {
                        for row in mine { _ = await client.cancel(.futures, symbol: row.symbol, row.exchangeOrderID) }
                    }
                }
                while next < min(parallel, rows.count) { launch() }
                for await _ in group where next < rows.count { launch() }
            }
            let ms = ClientBench.seconds(ContinuousClock.now - start) * 1000
            await check(simulatorURL, label)
            await session.shutdown()
            print(String(format: "  %@: %.1f ms", label, ms))
            return ms
        }

        /// The origin's way on Upbit (`upbit.py`: one `DELETE /v1/order` per order, in turn), `parallel`
        /// accounts at a time, each under the venue's pacing.
        func originWay(parallel: Int, label: String) async -> Double {
            let (db, sim, simulatorURL) = await world()
            defer { sim.stop() }
            let rows: [(UpbitClient, [OpenOrderRow])]
            do {
                let store = try await OrderDatabase.open(try DatabaseLocation(db), migrate: false)
                let access = try await store.strategyAccess(groupName: "fanout-public")!
                var list: [(UpbitClient, [OpenOrderRow])] = []
                for link in access.links {
                    let n = link.account.rawValue
                    var client = UpbitClient(baseURL: simulatorURL, accessKey: "fan-key-\(n)", secret: Secret("fan-secret-\(n)"))
                    client.pacer = RequestPacer(perSecond: 30)
                    list.append((client, try await store.openOrders(links: [link.link])))
                }
                await store.close()
                rows = list
            } catch { fail("\(error)") }
            let start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                var next = 0
                func launch() {
                    let (client, mine) = rows[next]
                    next += 1
                    group.addTask {
                        for row in mine { _ = try? await client.cancel(uuid: row.exchangeOrderID.rawValue) }
                    }
                }
                while next < min(parallel, rows.count) { launch() }
                for await _ in group where next < rows.count { launch() }
            }
            let ms = ClientBench.seconds(ContinuousClock.now - start) * 1000
            await check(simulatorURL, label)
            print(String(format: "  %@: %.1f ms", label, ms))
            return ms
        }

        var between: [Double] = []
        var during: [Double] = []
        for run in 1...runs {
            between.append(await ours(duringPass: false, run: run))
            during.append(await ours(duringPass: true, run: run))
        }
        var phase2: [Double] = []
        let baseline = upbit ? "origin's way (one DELETE per order)" : "seed"
        for run in 1...max(1, phase2Runs) { phase2.append(await seed(parallel: 10, label: "\(baseline) Phase 2 run \(run)")) }
        var phase1: [Double] = []
        for run in stride(from: 1, through: phase1Runs, by: 1) { phase1.append(await seed(parallel: 1, label: "\(baseline) Phase 1 run \(run)")) }
        let o = ClientBench.median(between)
        let d = ClientBench.median(during)
        let p1 = phase1.isEmpty ? .nan : ClientBench.median(phase1)
        let p2 = ClientBench.median(phase2)
        func range(_ xs: [Double]) -> String { String(format: "%.0f–%.0f", xs.min()!, xs.max()!) }
        print(
            String(
                format:
                    "[%@%@] fanout medians through `ordersync serve`: between passes %.1f ms (%@; target ≤ 150 ms), during a pass %.1f ms (%@; +%.1f ms, target ≤ +%d ms); %@ Phase 2 (10 accounts at a time) %.0f ms (%.1f× slower); Phase 1 (one at a time) %.0f ms (%.1f× slower)",
                pgAdmin == nil ? "SQLite" : "PostgreSQL",
                upbit ? ", Upbit" : "",
                o,
                range(between),
                d,
                range(during),
                d - o,
                latency,
                baseline,
                p2,
                p2 / o,
                p1,
                p1 / o
            )
        )
    }

    /// Stops every child process, then exits with the message.
    static func fail(_ message: String) -> Never {
        Child.stopAll()
        SimulatorBench.fail(message)
    }

    /// How long a RECONCILE runs before the cancel is sent in the during-a-pass case.
    static let passLead = 25

    /// `http://host:port` from a "… listening on http://host:port (…)" line.
    static func url(in line: String) -> String {
        guard let start = line.range(of: "http://") else { fail("no URL in \(line)") }
        return String(line[start.lowerBound...].prefix { $0 != " " })
    }

    static func get(_ url: String) async -> Any? {
        guard let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30)),
            let body = try? await response.body.collect(upTo: 1 << 26)
        else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))
    }

    static func post(_ url: String, _ body: String) async -> (Int, [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(120)),
            let bytes = try? await response.body.collect(upTo: 1 << 24)
        else { return (0, []) }
        return (Int(response.status.code), Array(buffer: bytes))
    }

    /// `upbit`: the accounts are Upbit's (`exchange` upbit, uuids, `BTC/KRW`), the strategies spot.
    /// `orphans`: per account, that many more open orders without a row (foreign orphans).
    static func writeScenario(_ path: String, accounts: Int, orders: Int, upbit: Bool = false, orphans: Int = 0) {
        let market = upbit ? "SPOT" : "FUTURES"
        func id(_ n: Int) -> String { upbit ? "5e1a0000-0000-4000-8000-" + String(format: "%012x", n) : String(n) }
        func eid(_ n: Int) -> String { upbit ? "\"\(id(n))\"" : String(n) }
        let btc = upbit ? "BTC/KRW" : "BTCUSDT"
        let eth = upbit ? "ETH/KRW" : "ETHUSDT"
        let exchangeKey = upbit ? #", "exchange": "upbit""# : ""
        var users = [#"{"id": 1, "username": "fan-owner", "webhook_token": "fan-owner"}"#]
        var accountItems: [String] = []
        var links: [String] = []
        var rows: [String] = []
        var exchange: [String] = []
        var link = 0
        for a in 1...accounts {
            users.append(#"{"id": \#(a + 1), "username": "fan-sub-\#(a)", "webhook_token": "fan-sub-\#(a)"}"#)
            accountItems.append(
                #"{"id": \#(a), "user_id": \#(a + 1), "name": "sub\#(a)"\#(exchangeKey), "api_key": "fan-key-\#(a)", "api_secret": "fan-secret-\#(a)"}"#
            )
            link += 1
            links.append(#"{"id": \#(link), "strategy_id": 1, "account_id": \#(a)}"#)
            for k in 0..<orders {
                let n = a * 1000 + k
                let symbol = k % 2 == 0 ? btc : eth
                rows.append(
                    #"{"strategy_account_id": \#(link), "exchange_order_id": "\#(id(n))", "symbol": "\#(symbol)", "side": "BUY", "price": "\#(2000 + k)", "quantity": "0.01"}"#
                )
                exchange.append(
                    #"{"account_id": \#(a), "market": "\#(market)", "order_id": \#(eid(n)), "symbol": "\#(symbol)", "side": "BUY", "price": "\#(2000 + k)", "quantity": "0.01"}"#
                )
            }
            for k in 0..<orphans {
                exchange.append(
                    #"{"account_id": \#(a), "market": "\#(market)", "order_id": \#(eid(a * 1000 + 500 + k)), "symbol": "\#(btc)", "side": "SELL", "price": "\#(9000 + k)", "quantity": "0.02"}"#
                )
            }
        }
        for a in 1...(accounts / 2) {
            link += 1
            links.append(#"{"id": \#(link), "strategy_id": 2, "account_id": \#(a)}"#)
            for k in 0..<5 {
                let n = a * 1000 + 900 + k
                rows.append(
                    #"{"strategy_account_id": \#(link), "exchange_order_id": "\#(id(n))", "symbol": "\#(btc)", "side": "BUY", "price": "1000", "quantity": "0.01"}"#
                )
                exchange.append(
                    #"{"account_id": \#(a), "market": "\#(market)", "order_id": \#(eid(n)), "symbol": "\#(btc)", "side": "BUY", "price": "1000", "quantity": "0.01"}"#
                )
            }
        }
        let text = """
            {"name": "bench-fanout",
             "users": [\(users.joined(separator: ",\n"))],
             "accounts": [\(accountItems.joined(separator: ",\n"))],
             "strategies": [{"id": 1, "user_id": 1, "name": "Fan-out public", "group_name": "fanout-public", "market_type": "\(market)", "is_public": true},
                            {"id": 2, "user_id": 1, "name": "Survivor", "group_name": "survivor", "market_type": "\(market)"}],
             "strategy_accounts": [\(links.joined(separator: ",\n"))],
             "db_orders": [\(rows.joined(separator: ",\n"))],
             "exchange_orders": [\(exchange.joined(separator: ",\n"))]}
            """
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("cannot write \(path)") }
    }
}

/// A child process of the benchmark (`ordersync simulate`, `ordersync serve`) with its output kept.
final class Child: Sendable {
    let process: Process
    /// A reference the pipe's handler can hold.
    final class Output: Sendable { let text = Mutex("") }
    private let buffer = Output()
    /// Every child still running, so a failing benchmark leaves none behind.
    private static let running = Mutex<[Int32: Process]>([:])

    static func stopAll() {
        for process in running.withLock({ Array($0.values) }) where process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    init(_ binary: String, _ arguments: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        pipe.fileHandleForReading.readabilityHandler = { [buffer] handle in
            let data = handle.availableData
            buffer.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        do { try process.run() } catch { SimulatorBench.fail("cannot start \(binary): \(error)") }
        Self.running.withLock { $0[process.processIdentifier] = process }
    }

    var output: String { buffer.text.withLock { $0 } }

    /// CPU time used so far (user + system, from /proc/<pid>/stat), in milliseconds.
    var cpuMs: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return .nan }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based, counting pid and comm).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The first output line containing `text`, waiting up to 60 s for it.
    func line(containing text: String) async -> String? {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        _ = Self.running.withLock { $0.removeValue(forKey: process.processIdentifier) }
    }

    /// Runs to the end and returns the exit status and the output.
    static func run(_ binary: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let child = Child(binary, arguments)
        child.process.waitUntilExit()
        return (child.process.terminationStatus, child.output)
    }
}
