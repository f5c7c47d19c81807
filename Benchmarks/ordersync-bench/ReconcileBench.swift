import AsyncHTTPClient
import Foundation
import LocalStack
import NIOCore
import OrderStore
import OrderSyncApp
import Scenarios
import SyncCore
import SyncRuntime
import Synchronization

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
        let values = flagValues(args)
        let accounts = Int(values["--accounts"] ?? "1000") ?? 0
        let orders = Int(values["--orders"] ?? "50") ?? 0
        // Per cent of the orders the origin lost, attributable by its records / by its placeholder rows.
        let recorded = Int(values["--recorded-percent"] ?? "0") ?? -1
        let placeholders = Int(values["--placeholder-percent"] ?? "0") ?? -1
        switch mode {
        case "scenario":
            guard let out = values["--out"], accounts > 0, orders > 0, recorded >= 0, placeholders >= 0, recorded + placeholders <= 90 else {
                SimulatorBench.fail(
                    "usage: ordersync-bench reconcile scenario --out FILE [--accounts N] [--orders N] [--recorded-percent P] [--placeholder-percent P]"
                )
            }
            writeScenario(out, accounts: accounts, orders: orders, recorded: recorded, placeholders: placeholders)
        case "passes":
            guard let url = values["--url"], let scenario = values["--scenario"], let window = Int(values["--window-seconds"] ?? ""),
                let runs = Int(values["--runs"] ?? "5"), runs > 0, window > 0
            else {
                SimulatorBench.fail(
                    "usage: ordersync-bench reconcile passes --url URL --scenario FILE --window-seconds W [--runs R] [--latency-ms L] [--database postgresql://…]"
                )
            }
            await passes(
                url: url,
                scenario: scenario,
                window: window,
                runs: runs,
                latency: Int(values["--latency-ms"] ?? "50") ?? 50,
                database: values["--database"],
                scenarioNow: values["--scenario-now-ms"].flatMap { Millis($0) }
            )
        default:
            SimulatorBench.fail("usage: ordersync-bench reconcile scenario|passes …")
        }
    }

    static let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

    /// `recorded` / `placeholders`: per cent of the limit orders the origin lost (no row) with a
    /// `trades` record of their id / with a FAILED placeholder row matching them.
    static func writeScenario(_ path: String, accounts: Int, orders: Int, recorded: Int = 0, placeholders: Int = 0) {
        var users: [String] = []
        var accountItems: [String] = []
        var links: [String] = []
        var rows: [String] = []
        var exchange: [String] = []
        var records: [String] = []
        var lost = (recorded: 0, placeholders: 0)
        for a in 1...accounts {
            users.append(#"{"id": \#(a), "username": "trader\#(a)", "webhook_token": "bench-token-\#(a)"}"#)
            accountItems.append(
                #"{"id": \#(a), "user_id": \#(a), "name": "acct\#(a)", "api_key": "bench-key-\#(a)", "api_secret": "bench-secret-\#(a)"}"#
            )
            links.append(#"{"id": \#(a), "strategy_id": 1, "account_id": \#(a)}"#)
            for k in 0..<orders {
                let symbol = symbols[k % symbols.count]
                let price = ["BTCUSDT": 50000 + k, "ETHUSDT": 3000 + k, "SOLUSDT": 50 + k][symbol]!
                if k % 10 == 9 {  // a conditional order, in the Algo service
                    let id = 50_000_000 + a * 1000 + k
                    rows.append(
                        #"{"strategy_account_id": \#(a), "exchange_order_id": "algo:\#(id)", "symbol": "\#(symbol)", "side": "SELL", "order_type": "STOP_MARKET", "stop_price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#
                    )
                    exchange.append(
                        #"{"account_id": \#(a), "market": "FUTURES", "order_id": \#(id), "algo": true, "symbol": "\#(symbol)", "side": "SELL", "type": "STOP_MARKET", "stop_price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#
                    )
                } else {
                    let id = a * 1000 + k
                    // Spread over accounts: order n of the whole world, n mod 100 below the percentages.
                    let slot = ((a - 1) * orders + k) % 100
                    let slashed = symbol.dropLast(4) + "/USDT"
                    if slot < recorded {
                        records.append(
                            #"{"table": "trades", "strategy_account_id": \#(a), "exchange_order_id": "\#(id)", "symbol": "\#(slashed)", "side": "BUY", "quantity": "0.5", "price": "\#(price)", "market_type": "futures", "age_ms": 3000000}"#
                        )
                        lost.recorded += 1
                    } else if slot < recorded + placeholders {
                        let hex = String(repeating: "0", count: 32 - String(id, radix: 16).count) + String(id, radix: 16)
                        rows.append(
                            #"{"strategy_account_id": \#(a), "exchange_order_id": "PENDING-\#(hex)", "symbol": "\#(slashed)", "side": "BUY", "price": "\#(price)", "quantity": "1", "status": "FAILED", "market_type": "futures", "age_ms": 3602000}"#
                        )
                        lost.placeholders += 1
                    } else {
                        rows.append(
                            #"{"strategy_account_id": \#(a), "exchange_order_id": "\#(id)", "symbol": "\#(symbol)", "side": "BUY", "price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#
                        )
                    }
                    exchange.append(
                        #"{"account_id": \#(a), "market": "FUTURES", "order_id": \#(id), "symbol": "\#(symbol)", "side": "BUY", "price": "\#(price)", "quantity": "1", "age_ms": 3600000}"#
                    )
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
             "exchange_orders": [\(exchange.joined(separator: ",\n"))],
             "origin_records": [\(records.joined(separator: ",\n"))]}
            """
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { SimulatorBench.fail("cannot write \(path)") }
        print(
            "scenario: \(accounts) accounts × \(orders) futures orders (\(orders / 10) algo each), \(lost.recorded) lost with a trades record, \(lost.placeholders) lost with a FAILED placeholder → \(path)"
        )
    }

    struct Stats {
        var weight = 0, refused = 0, requests = 0
    }

    static func stats(_ client: HTTPClient, _ url: String) async -> Stats {
        guard let response = try? await client.execute(HTTPClientRequest(url: url + "/_sim/stats"), timeout: .seconds(10)),
            let body = try? await response.body.collect(upTo: 1 << 20),
            let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        else { SimulatorBench.fail("cannot read /_sim/stats") }
        let weight = (json["weight"] as? [String: Int]) ?? [:]
        let refused = (json["rate_limited"] as? [String: Int]) ?? [:]
        let requests = (json["requests"] as? [String: Int]) ?? [:]
        return Stats(
            weight: weight.values.reduce(0, +),
            refused: refused.values.reduce(0, +),
            requests: requests.filter { !$0.key.contains("/_sim/") }.values.reduce(0, +)
        )
    }

    /// `database`: an empty PostgreSQL database's URL, or nil for a temporary SQLite file.
    /// `scenarioNow`: when the simulator loaded the scenario (ms), so that the rows' ages count from
    /// the same moment as its orders' (a placeholder row must be seconds older than its order,
    /// whenever this backend's run starts); nil: now.
    static func passes(url: String, scenario: String, window: Int, runs: Int, latency: Int, database: String? = nil, scenarioNow: Millis? = nil) async
    {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-bench-\(getpid()).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let name = database ?? path
        let rowCount: Int
        do {
            let db = try await OrderDatabase.open(try DatabaseLocation(name))
            try await db.load(try EntryPoints.readScenario(scenario), now: scenarioNow ?? EntryPoints.wallClock())
            // A thousand accounts: the optional indexes a large installation adds (`migrate --add-indexes`).
            _ = try await db.addOriginIndexes()
            if db.dialect == .postgres { _ = try await db.rows("ANALYZE") }
            rowCount = try await db.openOrders().count
            await db.close()
        } catch {
            SimulatorBench.fail("loading \(scenario): \(error)")
        }
        var options = ReconcileOptions(databasePath: name)
        options.config.exchange.spotURL = url
        options.config.exchange.futuresURL = url
        var runner: ReconcileRunner
        var gateway: Venues
        var store: OrderDatabase
        do { (runner, gateway, store) = try await EntryPoints.makeRunner(options) } catch { SimulatorBench.fail("\(error)") }
        // The origin's evidence reads: (account-markets read, statements).
        let evidence = EvidenceTally()
        runner.evidenceRead = { _, answer in evidence.add(answer.statements) }
        print("database: \(store.dialect.name)\(database == nil ? " (temporary file)" : ", \((try? DatabaseLocation(name).description) ?? "")")")
        let control = HTTPClient(eventLoopGroupProvider: .singleton)
        let budget = Double(2400) * options.config.exchange.weightBudget
        print(
            "reconcile passes: \(rowCount) rows on the simulator's accounts, \(latency) ms latency, futures weight 2400 per \(window) s window, budget \(options.config.exchange.weightBudget), sweep every \(options.config.reconcile.sweepEvery) passes, \(options.config.reconcile.parallelism) accounts at once"
        )

        struct Pass {
            var wall, floor, cpu: Double
            var weight, refused, requests, evidenceReads, evidenceStatements: Int
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
            let weight = after.weight - before.weight
            let (reads, statements) = evidence.take()
            return Pass(
                wall: wall,
                floor: Double(weight) / budget * Double(window),
                cpu: cpu,
                weight: weight,
                refused: after.refused - before.refused,
                requests: after.requests - before.requests,
                evidenceReads: reads,
                evidenceStatements: statements,
                report: report
            )
        }
        func show(_ label: String, _ p: Pass, rows: Int) {
            let t = p.report.totals
            print(
                String(
                    format:
                        "  %@: %.2f s, weight %d (floor %.2f s, %.2f×), %d requests, %d refused (429/418), CPU %.2f s, matched %d, adopted %d, evidence read for %d account-markets in %d statements (%.2f per account), errors %d, peak RSS %.0f MB",
                    label,
                    p.wall,
                    p.weight,
                    p.floor,
                    p.wall / p.floor,
                    p.requests,
                    p.refused,
                    p.cpu,
                    t[.matched],
                    t[.adopted],
                    p.evidenceReads,
                    p.evidenceStatements,
                    Double(p.evidenceStatements) / Double(max(1, p.report.sections.count)),
                    p.report.errorCount,
                    peakRSSMB()
                )
            )
            if p.report.errorCount > 0 || t[.matched] != rows { SimulatorBench.fail("the pass did not match every row: \(p.report.summaryLine)") }
        }
        let first = await pass()
        show("first pass (every account sweeps)", first, rows: rowCount)
        // The orders the origin lost are attributed on the first pass, by records and placeholders alone.
        let lost = first.report.sections.flatMap(\.findings).filter { $0.kind == .adopted }
        let byRecord = lost.filter { $0.evidence?.hasPrefix("recorded:") == true }.count
        let byPlaceholder = lost.filter { $0.evidence?.hasPrefix("placeholder:") == true }.count
        print(
            "  first pass attributed \(byRecord) orders by the origin's records and \(byPlaceholder) by its placeholder rows; foreign \(first.report.totals[.foreignOrphan])"
        )
        if first.report.totals[.foreignOrphan] > 0 || byRecord + byPlaceholder != lost.count {
            SimulatorBench.fail("an order the origin lost was not attributed")
        }
        let steadyRows = rowCount + lost.count
        var steady: [Pass] = []
        for run in 1...runs {
            let p = await pass()
            show("steady pass \(run)", p, rows: steadyRows)
            steady.append(p)
        }
        func median(_ f: (Pass) -> Double) -> Double { ClientBench.median(steady.map(f)) }
        let originWeight = steadyRows  // GET /fapi/v1/order (and algoOrder) is weight 1
        print(
            String(
                format:
                    "[%@] reconcile steady pass median %.2f s = %.2f× the %.2f s weight floor (target ≤ 1.2×), %.0f requests, weight %.0f, CPU %.2f s (target ≤ 2 s), refused %d, peak RSS %.0f MB (target ≤ 200 MB)",
                store.dialect.name,
                median(\.wall),
                median { $0.wall / $0.floor },
                median(\.floor),
                median { Double($0.requests) },
                median { Double($0.weight) },
                median(\.cpu),
                steady.map(\.refused).reduce(0, +) + first.refused,
                peakRSSMB()
            )
        )
        print(
            String(
                format:
                    "first pass %.2f s = %.2f× its %.2f s floor; origin approach (one order query per row): %d requests and weight %d per pass (floor %.1f s) vs ordersync's steady %.0f requests (%.1f× fewer)",
                first.wall,
                first.wall / first.floor,
                first.floor,
                steadyRows,
                originWeight,
                Double(originWeight) / budget * Double(window),
                median { Double($0.requests) },
                Double(steadyRows) / median { Double($0.requests) }
            )
        )
        print(
            String(
                format: "first pass CPU %.2f s with %d evidence statements (%d account-markets); steady passes %d evidence statements",
                first.cpu,
                first.evidenceStatements,
                first.evidenceReads,
                steady.map(\.evidenceStatements).reduce(0, +)
            )
        )
        try? await control.shutdown()
        await gateway.shutdown()
        await store.close()
    }
}

/// Evidence reads counted across a pass's parallel accounts.
final class EvidenceTally: Sendable {
    private let counts = Mutex((reads: 0, statements: 0))
    func add(_ statements: Int) {
        counts.withLock {
            $0.reads += 1
            $0.statements += statements
        }
    }
    /// The counts so far, reset to zero.
    func take() -> (Int, Int) {
        counts.withLock { c in
            defer { c = (0, 0) }
            return (c.reads, c.statements)
        }
    }
}
