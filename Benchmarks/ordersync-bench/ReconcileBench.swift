import AsyncHTTPClient
import Foundation
import NIOCore
import OrderStore
import OrderSyncApp
import SyncCore
import SyncRuntime

/// Reconciliation passes at scale against a running simulator (scripts/bench-reconcile):
///
///   scenario: writes A accounts × N futures orders (45 of each 50 limit orders over 3 symbols,
///             the rest conditional algo orders), every one recorded in open_orders, as one
///             scenario file for both `ordersync simulate --scenario` and the database.
///   passes:   loads that scenario into a temp SQLite DB and runs passes the way `serve` does (one
///             runner, one session): the first pass (every account sweeps) and R steady passes
///             (per-symbol listings, a 1/sweepEvery share of accounts sweeping). Per pass: wall
///             time, request weight the simulator charged and the floor that weight sets under the
///             client's budget, 429/418 refusals, requests, process CPU and peak RSS. The origin
///             system's approach — one order query per open row — is counted for comparison.
enum ReconcileBench {
    static func main(_ arguments: [String]) async {
        var args = arguments[...]
        let mode = args.popFirst() ?? ""
        var values: [String: String] = [:]
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { SimulatorBench.fail("\(flag) needs a value") }
            values[flag] = value
        }
        let accounts = Int(values["--accounts"] ?? "1000") ?? 0, orders = Int(values["--orders"] ?? "50") ?? 0
        switch mode {
        case "scenario":
            guard let out = values["--out"], accounts > 0, orders > 0 else {
                SimulatorBench.fail("usage: ordersync-bench reconcile scenario --out FILE [--accounts N] [--orders N]")
            }
            writeScenario(out, accounts: accounts, orders: orders)
        case "passes":
            guard let url = values["--url"], let scenario = values["--scenario"], let window = Int(values["--window-seconds"] ?? ""),
                  let runs = Int(values["--runs"] ?? "5"), runs > 0, window > 0 else {
                SimulatorBench.fail("usage: ordersync-bench reconcile passes --url URL --scenario FILE --window-seconds W [--runs R] [--latency-ms L] [--database postgresql://…]")
            }
            await passes(url: url, scenario: scenario, window: window, runs: runs, latency: Int(values["--latency-ms"] ?? "50") ?? 50,
                         database: values["--database"])
        default:
            SimulatorBench.fail("usage: ordersync-bench reconcile scenario|passes …")
        }
    }

    static let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

    static func writeScenario(_ path: String, accounts: Int, orders: Int) {
        var users: [String] = [], accountItems: [String] = [], links: [String] = [], rows: [String] = [], exchange: [String] = []
        for a in 1...accounts {
            users.append(#"{"id": \#(a), "username": "trader\#(a)", "webhook_token": "bench-token-\#(a)"}"#)
            accountItems.append(#"{"id": \#(a), "user_id": \#(a), "name": "acct\#(a)", "api_key": "bench-key-\#(a)", "api_secret": "bench-secret-\#(a)"}"#)
            links.append(#"{"id": \#(a), "strategy_id": 1, "account_id": \#(a)}"#)
            for k in 0..<orders {
                let symbol = symbols[k % symbols.count]
                let price = ["BTCUSDT": 50000 + k, "ETHUSDT": 3000 + k, "SOLUSDT": 50 + k][symbol]!
                if k % 10 == 9 {  // a conditional order, in the Algo service
                    let id = 50_000_000 + a * 1000 + k
                    rows.append(#"{"strategy_account_id": \#(a), "exchange_order_id": "algo:\#(id)", "symbol": "\#(symbol)", "side": "SELL", "order_type": "STOP_MARKET", "stop_price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#)
                    exchange.append(#"{"account_id": \#(a), "market": "FUTURES", "order_id": \#(id), "algo": true, "symbol": "\#(symbol)", "side": "SELL", "type": "STOP_MARKET", "stop_price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#)
                } else {
                    let id = a * 1000 + k
                    rows.append(#"{"strategy_account_id": \#(a), "exchange_order_id": "\#(id)", "symbol": "\#(symbol)", "side": "BUY", "price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#)
                    exchange.append(#"{"account_id": \#(a), "market": "FUTURES", "order_id": \#(id), "symbol": "\#(symbol)", "side": "BUY", "price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#)
                }
            }
        }
        let text = """
            {"name": "bench-reconcile", "description": "\(accounts) accounts × \(orders) futures orders, all recorded",
             "users": [\(users.joined(separator: ",\n"))],
             "accounts": [\(accountItems.joined(separator: ",\n"))],
             "strategies": [{"id": 1, "user_id": 1, "name": "Bench", "group_name": "bench", "market_type": "FUTURES", "is_public": true}],
             "strategy_accounts": [\(links.joined(separator: ",\n"))],
             "db_orders": [\(rows.joined(separator: ",\n"))],
             "exchange_orders": [\(exchange.joined(separator: ",\n"))]}
            """
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { SimulatorBench.fail("cannot write \(path)") }
        print("scenario: \(accounts) accounts × \(orders) futures orders (\(orders / 10) algo each) → \(path)")
    }

    struct Stats {
        var weight = 0, refused = 0, requests = 0
    }

    static func stats(_ client: HTTPClient, _ url: String) async -> Stats {
        guard let response = try? await client.execute(HTTPClientRequest(url: url + "/_sim/stats"), timeout: .seconds(10)),
              let body = try? await response.body.collect(upTo: 1 << 20),
              let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        else { SimulatorBench.fail("cannot read /_sim/stats") }
        let weight = (json["weight"] as? [String: Int]) ?? [:], refused = (json["rate_limited"] as? [String: Int]) ?? [:]
        let requests = (json["requests"] as? [String: Int]) ?? [:]
        return Stats(weight: weight.values.reduce(0, +), refused: refused.values.reduce(0, +),
                     requests: requests.filter { !$0.key.contains("/_sim/") }.values.reduce(0, +))
    }

    /// `database`: an empty PostgreSQL database's URL, or nil for a temporary SQLite file.
    static func passes(url: String, scenario: String, window: Int, runs: Int, latency: Int, database: String? = nil) async {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-bench-\(getpid()).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let name = database ?? path
        let rowCount: Int
        do {
            let db = try await OrderDatabase.open(try DatabaseLocation(name))
            try await db.load(try OrderSyncApp.readScenario(scenario), now: SimulatorSetup.wallClock())
            // A thousand accounts: the optional indexes a large installation adds (`migrate --add-indexes`).
            _ = try await db.addOriginIndexes()
            if db.dialect == .postgres { _ = try await db.rows("ANALYZE") }
            rowCount = try await db.openOrders().count
            await db.close()
        } catch {
            SimulatorBench.fail("loading \(scenario): \(error)")
        }
        var options = ReconcileOptions(databasePath: name)
        options.spotURL = url
        options.futuresURL = url
        let runner: ReconcileRunner, gateway: BinanceGateway, store: OrderDatabase
        do { (runner, gateway, store) = try await OrderSyncApp.makeRunner(options) } catch { SimulatorBench.fail("\(error)") }
        print("database: \(store.dialect.name)\(database == nil ? " (temporary file)" : ", \((try? DatabaseLocation(name).description) ?? "")")")
        let control = HTTPClient(eventLoopGroupProvider: .singleton)
        let budget = Double(2400) * options.weightBudget
        print("reconcile passes: \(rowCount) rows on the simulator's accounts, \(latency) ms latency, futures weight 2400 per \(window) s window, budget \(options.weightBudget), sweep every \(options.sweepEvery) passes, \(options.parallelism) accounts at once")

        struct Pass { var wall, floor, cpu: Double; var weight, refused, requests: Int; var report: DriftReport }
        func pass() async -> Pass {
            let before = await stats(control, url), cpu0 = ClientBench.cpuSeconds(), start = ContinuousClock.now
            let report: DriftReport
            do { report = try await runner.pass(trigger: "bench") } catch { SimulatorBench.fail("pass failed: \(error)") }
            let wall = ClientBench.seconds(ContinuousClock.now - start), cpu = ClientBench.cpuSeconds() - cpu0
            let after = await stats(control, url)
            let weight = after.weight - before.weight
            return Pass(wall: wall, floor: Double(weight) / budget * Double(window), cpu: cpu, weight: weight,
                        refused: after.refused - before.refused, requests: after.requests - before.requests, report: report)
        }
        func show(_ label: String, _ p: Pass) {
            let t = p.report.totals
            print(String(format: "  %@: %.2f s, weight %d (floor %.2f s, %.2f×), %d requests, %d refused (429/418), CPU %.2f s, matched %d, errors %d, peak RSS %.0f MB",
                         label, p.wall, p.weight, p.floor, p.wall / p.floor, p.requests, p.refused, p.cpu, t[.matched], p.report.errorCount, peakRSSMB()))
            if p.report.errorCount > 0 || t[.matched] != rowCount { SimulatorBench.fail("the pass did not match every row: \(p.report.summaryLine)") }
        }
        let first = await pass()
        show("first pass (every account sweeps)", first)
        var steady: [Pass] = []
        for run in 1...runs {
            let p = await pass()
            show("steady pass \(run)", p)
            steady.append(p)
        }
        func median(_ f: (Pass) -> Double) -> Double { ClientBench.median(steady.map(f)) }
        let originWeight = rowCount  // GET /fapi/v1/order (and algoOrder) is weight 1
        print(String(format: "[%@] reconcile steady pass median %.2f s = %.2f× the %.2f s weight floor (target ≤ 1.2×), %.0f requests, weight %.0f, CPU %.2f s (target ≤ 2 s), refused %d, peak RSS %.0f MB (target ≤ 200 MB)",
                     store.dialect.name, median(\.wall), median { $0.wall / $0.floor }, median(\.floor), median { Double($0.requests) }, median { Double($0.weight) },
                     median(\.cpu), steady.map(\.refused).reduce(0, +) + first.refused, peakRSSMB()))
        print(String(format: "first pass %.2f s = %.2f× its %.2f s floor; origin approach (one order query per row): %d requests and weight %d per pass (floor %.1f s) vs ordersync's steady %.0f requests (%.1f× fewer)",
                     first.wall, first.wall / first.floor, first.floor, rowCount, originWeight, Double(originWeight) / budget * Double(window),
                     median { Double($0.requests) }, Double(rowCount) / median { Double($0.requests) }))
        try? await control.shutdown()
        await gateway.shutdown()
        await store.close()
    }
}
