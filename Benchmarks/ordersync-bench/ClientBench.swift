import AsyncHTTPClient
import BinanceAPI
import Foundation
import NIOCore
import OriginKeys
import SyncCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Benchmarks of the BinanceAPI client against a running simulator (scripts/bench-client starts them).
///
///   cpu:     N signed spot openOrders(symbol) through AccountClient, 50 at a time; process CPU per request.
///   cancels: 5 resting futures orders on each of A accounts, then every account's cancel(ids) at
///            once (one batchOrders each); wall time against the simulator's latency.
///   transport: signed openOrders at 50 concurrent, AsyncHTTPClient vs Foundation URLSession (libcurl).
enum ClientBench {
    static func main(_ arguments: [String]) async {
        var url = ""
        var mode = ""
        var accounts = 100
        var requests = 20_000
        var runs = 5
        var latency = 50
        var args = arguments[...]
        mode = args.popFirst() ?? ""
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { SimulatorBench.fail("\(flag) needs a value") }
            switch flag {
            case "--url": url = value
            case "--accounts": accounts = Int(value) ?? 0
            case "--requests": requests = Int(value) ?? 0
            case "--runs": runs = Int(value) ?? 0
            case "--latency-ms": latency = Int(value) ?? 0
            default: SimulatorBench.fail("unknown option \(flag)")
            }
        }
        guard !url.isEmpty, ["cpu", "cancels", "transport"].contains(mode), accounts > 0, requests > 0, runs > 0 else {
            SimulatorBench.fail(
                "usage: ordersync-bench client cpu|cancels|transport --url URL [--accounts N] [--requests N] [--runs N] [--latency-ms N]"
            )
        }
        switch mode {
        case "cpu": await cpu(url: url, requests: requests, runs: runs)
        case "cancels": await cancels(url: url, accounts: accounts, runs: runs, latency: latency)
        default: await transport(url: url, requests: requests, runs: runs)
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec)
            / 1e6
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    static func cpu(url: String, requests: Int, runs: Int) async {
        let session = BinanceSession(configuration: ClientConfiguration(baseURL: url), transport: AsyncHTTPTransport(maxConnectionsPerHost: 50))
        let client = session.account(Credentials(apiKey: "key-1", secret: Secret("secret-1")))
        _ = await client.openOrders(.spot, symbol: "BTCUSDT")  // learn limits, sync time, warm the pool
        print("client cpu: \(requests) signed GET /api/v3/openOrders?symbol=BTCUSDT through AccountClient, 50 at a time, \(runs) runs")
        var perRequest: [Double] = []
        for run in 1...runs {
            let cpu0 = cpuSeconds()
            let start = ContinuousClock.now
            let complete = await withTaskGroup(of: Int.self) { group in
                for lane in 0..<50 {
                    group.addTask {
                        var ok = 0
                        for _ in stride(from: lane, to: requests, by: 50)
                        where await client.openOrders(.spot, symbol: "BTCUSDT").coverage == .complete { ok += 1 }
                        return ok
                    }
                }
                return await group.reduce(0, +)
            }
            let wall = seconds(ContinuousClock.now - start)
            let cpu = cpuSeconds() - cpu0
            perRequest.append(cpu / Double(requests) * 1000)
            print(
                String(
                    format: "  run %d: %.3f ms CPU per request, %.0f requests/s, %d/%d complete",
                    run,
                    cpu / Double(requests) * 1000,
                    Double(requests) / wall,
                    complete,
                    requests
                )
            )
            if complete != requests { SimulatorBench.fail("listings failed: raise the simulator's --weight-limit") }
        }
        print(String(format: "client cpu median %.3f ms per request over %d runs (target ≤ 0.2 ms)", median(perRequest), runs))
        await session.shutdown()
    }

    static func cancels(url: String, accounts: Int, runs: Int, latency: Int) async {
        let session = BinanceSession(configuration: ClientConfiguration(baseURL: url), transport: AsyncHTTPTransport(maxConnectionsPerHost: 256))
        let clients = (1...accounts).map { session.account(Credentials(apiKey: "key-\($0)", secret: Secret("secret-\($0)"))) }
        let control = HTTPClient(eventLoopGroupProvider: .singleton)
        _ = await clients[0].openOrders(.futures, symbol: "BTCUSDT")
        print(
            "client cancels: \(accounts) accounts × 5 resting futures orders, every account's cancelBatch at once, \(latency) ms simulated latency, \(runs) runs"
        )
        var times: [Double] = []
        for run in 1...runs {
            // Place 5 orders per account by hand (the control API is unsigned and not delayed).
            var ids: [[ExchangeOrderID]] = Array(repeating: [], count: accounts)
            for a in 0..<accounts {
                for k in 0..<5 {
                    var request = HTTPClientRequest(url: url + "/_sim/place")
                    request.method = .POST
                    request.body = .bytes(
                        ByteBuffer(
                            string:
                                #"{"account_id":\#(1001 + a),"market":"FUTURES","symbol":"BTCUSDT","side":"BUY","type":"LIMIT","price":"\#(40000 + k * 10)","quantity":"0.002"}"#
                        )
                    )
                    guard let response = try? await control.execute(request, timeout: .seconds(10)),
                        let body = try? await response.body.collect(upTo: 1 << 16),
                        let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                        let id = (json["order_id"] as? NSNumber)?.int64Value
                    else { SimulatorBench.fail("could not place orders via /_sim/place") }
                    ids[a].append(.regular(id))
                }
            }
            let start = ContinuousClock.now
            let cancelled = await withTaskGroup(of: Int.self) { group in
                for a in 0..<accounts {
                    let client = clients[a]
                    let mine = ids[a]
                    group.addTask {
                        await client.cancelBatch(symbol: "BTCUSDT", mine).filter { if case .cancelled = $0.1 { true } else { false } }.count
                    }
                }
                return await group.reduce(0, +)
            }
            let wall = seconds(ContinuousClock.now - start) * 1000
            times.append(wall)
            print(String(format: "  run %d: %d cancels in %.1f ms (%.2f× the latency)", run, cancelled, wall, wall / Double(latency)))
            if cancelled != accounts * 5 { SimulatorBench.fail("only \(cancelled) of \(accounts * 5) cancelled") }
        }
        let m = median(times)
        print(
            String(
                format: "client cancels median %.1f ms for %d cancels over %d runs = %.2f× the %d ms latency (target ≤ 3×)",
                m,
                accounts * 5,
                runs,
                m / Double(latency),
                latency
            )
        )
        try? await control.shutdown()
        await session.shutdown()
    }

    /// The same signed request over both transports, 50 at a time.
    static func transport(url: String, requests: Int, runs: Int) async {
        let ahc = AsyncHTTPTransport(maxConnectionsPerHost: 50)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 50
        let urlSession = URLSession(configuration: configuration)
        @Sendable func signed() -> (String, [(String, String)]) {
            let query = "symbol=BTCUSDT&timestamp=\(Int64(Date().timeIntervalSince1970 * 1000))"
            return (url + "/api/v3/openOrders?" + query + "&signature=" + BinanceSession.hmac(Secret("secret-1"), query), [("X-MBX-APIKEY", "key-1")])
        }
        @Sendable func viaURLSession() async -> Bool {
            let (u, headers) = signed()
            var request = URLRequest(url: URL(string: u)!)
            for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
            guard let (_, response) = try? await urlSession.data(for: request) else { return false }
            return (response as? HTTPURLResponse)?.statusCode == 200
        }
        @Sendable func viaAHC() async -> Bool {
            let (u, headers) = signed()
            return (try? await ahc.send(method: "GET", url: u, headers: headers, timeout: .seconds(10)))?.status == 200
        }
        print("transport: signed GET /api/v3/openOrders?symbol=BTCUSDT, \(requests) requests, 50 concurrent, \(runs) runs each")
        for (name, call) in [("AsyncHTTPClient", viaAHC as @Sendable () async -> Bool), ("URLSession (libcurl)", viaURLSession)] {
            _ = await call()
            var rates: [Double] = []
            for _ in 1...runs {
                let start = ContinuousClock.now
                let ok = await withTaskGroup(of: Int.self) { group in
                    for lane in 0..<50 {
                        group.addTask {
                            var ok = 0
                            for _ in stride(from: lane, to: requests, by: 50) where await call() { ok += 1 }
                            return ok
                        }
                    }
                    return await group.reduce(0, +)
                }
                rates.append(Double(ok) / seconds(ContinuousClock.now - start))
            }
            print(String(format: "  %@: median %.0f requests/s (min %.0f, max %.0f)", name, median(rates), rates.min()!, rates.max()!))
        }
        await ahc.shutdown()
    }
}
