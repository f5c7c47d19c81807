import AsyncHTTPClient
import Foundation
import OrderStore
import OrderSyncApp
import Scenarios
import SyncCore
import SyncRuntime

/// Reconciliation passes over Upbit accounts against a running `ordersync simulate --exchange upbit`
/// (scripts/bench-upbit):
///
///   scenario: A Upbit accounts (`exchange` upbit) × N spot orders over three KRW markets, every one
///             recorded in open_orders as the origin writes them (`BTC/KRW`, `spot`).
///   passes:   loads it into a temp SQLite DB (or --database) and runs passes the way `serve` does:
///             per pass wall time, requests, 429s, process CPU and peak RSS. Upbit limits requests
///             per account (30 a second); a pass needs one request per hundred resting orders of an
///             account, so the limit's floor is max over accounts of requests / 30 s, and with
///             `parallelism` accounts at a time each waiting `latency` a page the pass cannot be
///             shorter than ⌈A / parallelism⌉ × pages × latency either; the floor is the larger.
enum UpbitReconcileBench {
    static func main(_ arguments: [String]) async {
        var args = arguments[...]
        let mode = args.popFirst() ?? ""
        var values: [String: String] = [:]
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { SimulatorBench.fail("\(flag) needs a value") }
            values[flag] = value
        }
        let accounts = Int(values["--accounts"] ?? "1000") ?? 0
        let orders = Int(values["--orders"] ?? "20") ?? 0
        switch mode {
        case "scenario":
            guard let out = values["--out"], accounts > 0, orders > 0 else {
                SimulatorBench.fail("usage: ordersync-bench upbit scenario --out FILE [--accounts N] [--orders N]")
            }
            writeScenario(out, accounts: accounts, orders: orders)
        case "passes":
            guard let url = values["--url"], let scenario = values["--scenario"], let runs = Int(values["--runs"] ?? "5"), runs > 0,
                let parallelism = Int(values["--parallelism"] ?? "16"), parallelism > 0
            else {
                SimulatorBench.fail(
                    "usage: ordersync-bench upbit passes --url URL --scenario FILE [--runs R] [--latency-ms L] [--parallelism P] [--database postgresql://…]"
                )
            }
            await passes(
                url: url,
                scenario: scenario,
                runs: runs,
                latency: Int(values["--latency-ms"] ?? "50") ?? 50,
                parallelism: parallelism,
                database: values["--database"]
            )
        default:
            SimulatorBench.fail("usage: ordersync-bench upbit scenario|passes …")
        }
    }

    static let markets = ["BTC/KRW", "ETH/KRW", "XRP/KRW"]

    static func writeScenario(_ path: String, accounts: Int, orders: Int) {
        var users: [String] = []
        var items: [String] = []
        var links: [String] = []
        var rows: [String] = []
        var exchange: [String] = []
        for a in 1...accounts {
            users.append(#"{"id": \#(a), "username": "trader\#(a)", "webhook_token": "bench-token-\#(a)"}"#)
            items.append(
                #"{"id": \#(a), "user_id": \#(a), "name": "upbit\#(a)", "exchange": "upbit", "api_key": "up-key-\#(a)", "api_secret": "up-secret-\#(a)"}"#
            )
            links.append(#"{"id": \#(a), "strategy_id": 1, "account_id": \#(a)}"#)
            for k in 0..<orders {
                let symbol = markets[k % markets.count]
                let uuid = "5e1a0000-0000-4000-8000-" + String(format: "%012x", a * 10_000 + k)
                let price = 1000 + k
                rows.append(
                    #"{"strategy_account_id": \#(a), "exchange_order_id": "\#(uuid)", "symbol": "\#(symbol)", "side": "BUY", "price": "\#(price)", "quantity": "1", "market_type": "spot", "age_ms": 3600000}"#
                )
                exchange.append(
                    #"{"account_id": \#(a), "market": "SPOT", "order_id": "\#(uuid)", "symbol": "\#(symbol)", "side": "BUY", "price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#
                )
            }
        }
        let text = """
            {"name": "bench-upbit", "description": "\(accounts) Upbit accounts × \(orders) spot orders, all recorded",
             "users": [\(users.joined(separator: ",\n"))],
             "accounts": [\(items.joined(separator: ",\n"))],
             "strategies": [{"id": 1, "user_id": 1, "name": "Bench", "group_name": "bench", "market_type": "SPOT", "is_public": true}],
             "strategy_accounts": [\(links.joined(separator: ",\n"))],
             "db_orders": [\(rows.joined(separator: ",\n"))],
             "exchange_orders": [\(exchange.joined(separator: ",\n"))]}
            """
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { SimulatorBench.fail("cannot write \(path)") }
        print("scenario: \(accounts) Upbit accounts × \(orders) spot orders → \(path)")
    }

    static func stats(_ client: HTTPClient, _ url: String) async -> (requests: Int, refused: Int) {
        guard let response = try? await client.execute(HTTPClientRequest(url: url + "/_sim/stats"), timeout: .seconds(10)),
            let body = try? await response.body.collect(upTo: 1 << 20),
            let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        else { SimulatorBench.fail("cannot read /_sim/stats") }
        let requests = (json["requests"] as? [String: Int]) ?? [:]
        return (requests.values.reduce(0, +), (json["rate_limited"] as? Int) ?? 0)
    }

    static func passes(url: String, scenario: String, runs: Int, latency: Int, parallelism: Int, database: String?) async {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-bench-upbit-\(getpid()).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let name = database ?? path
        let world: Scenario
        let rowCount: Int
        do {
            world = try EntryPoints.readScenario(scenario)
            let db = try await OrderDatabase.open(try DatabaseLocation(name))
            try await db.load(world, now: EntryPoints.wallClock())
            _ = try await db.addOriginIndexes()
            rowCount = try await db.openOrders().count
            await db.close()
        } catch {
            SimulatorBench.fail("loading \(scenario): \(error)")
        }
        var options = ReconcileOptions(databasePath: name)
        options.config.exchange.upbitURL = url
        options.config.reconcile.parallelism = parallelism
        var runner: ReconcileRunner
        var gateway: Venues
        var store: OrderDatabase
        do { (runner, gateway, store) = try await EntryPoints.makeRunner(options) } catch { SimulatorBench.fail("\(error)") }

        let control = HTTPClient(eventLoopGroupProvider: .singleton)
        let accounts = world.accounts.count
        let perAccount = max(1, (rowCount / max(1, accounts) + 99) / 100)  // pages of a hundred
        let rateFloor = Double(perAccount) / Double(options.config.exchange.upbitRequestsPerSecond)
        let latencyFloor = Double((accounts + parallelism - 1) / parallelism * perAccount) * Double(latency) / 1000
        let floor = max(rateFloor, latencyFloor)
        print(
            "upbit passes: \(accounts) accounts, \(rowCount) rows, \(latency) ms latency, \(parallelism) accounts at once, \(options.config.exchange.upbitRequestsPerSecond) requests/s per account; floor \(String(format: "%.2f", floor)) s (rate \(String(format: "%.3f", rateFloor)) s, latency × waves \(String(format: "%.2f", latencyFloor)) s)"
        )
        struct Pass {
            var wall, cpu: Double
            var requests, refused: Int
            var report: DriftReport
        }
        func pass() async -> Pass {
            let before = await stats(control, url)
            let cpu0 = ClientBench.cpuSeconds()
            let start = ContinuousClock.now
            let report: DriftReport
            do { report = try await runner.pass(trigger: "bench") } catch { SimulatorBench.fail("pass failed: \(error)") }
            let wall = ClientBench.seconds(ContinuousClock.now - start)
            let cpu = ClientBench.cpuSeconds() - cpu0
            let after = await stats(control, url)
            return Pass(wall: wall, cpu: cpu, requests: after.requests - before.requests, refused: after.refused - before.refused, report: report)
        }
        var all: [Pass] = []
        for run in 0...runs {
            let p = await pass()
            print(
                String(
                    format: "  %@: %.2f s (%.2f× the floor), %d requests, %d refused (429), CPU %.2f s, matched %d, errors %d, peak RSS %.0f MB",
                    run == 0 ? "first pass" : "pass \(run)",
                    p.wall,
                    p.wall / floor,
                    p.requests,
                    p.refused,
                    p.cpu,
                    p.report.totals[.matched],
                    p.report.errorCount,
                    peakRSSMB()
                )
            )
            if p.report.errorCount > 0 || p.report.totals[.matched] != rowCount {
                SimulatorBench.fail("the pass did not match every row: \(p.report.summaryLine)")
            }
            if run > 0 { all.append(p) }
        }
        print(
            String(
                format:
                    "[%@, Upbit] reconcile pass median %.2f s = %.2f× the %.2f s floor (target ≤ 1.2×), %.0f requests, CPU %.2f s (target ≤ 1 s), 429s %d (target 0), peak RSS %.0f MB",
                store.dialect.name,
                ClientBench.median(all.map(\.wall)),
                ClientBench.median(all.map { $0.wall / floor }),
                floor,
                ClientBench.median(all.map { Double($0.requests) }),
                ClientBench.median(all.map(\.cpu)),
                all.map(\.refused).reduce(0, +),
                peakRSSMB()
            )
        )
        try? await control.shutdown()
        await gateway.shutdown()
        await store.close()
    }
}
