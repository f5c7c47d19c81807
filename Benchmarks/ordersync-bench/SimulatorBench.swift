import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// Signed `GET /fapi/v1/openOrders?symbol=…` requests per second against a running simulator,
/// over N concurrent keep-alive connections. Each request is signed with a fresh timestamp, as a
/// real client does.
enum SimulatorBench {
    static func main(_ arguments: [String]) async {
        var url = ""
        var key = ""
        var secret = ""
        var connections = 50
        var requests = 20_000
        var runs = 5
        var args = arguments[...]
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { fail("\(flag) needs a value") }
            switch flag {
            case "--url": url = value
            case "--key": key = value
            case "--secret": secret = value
            case "--connections": connections = Int(value) ?? 0
            case "--requests": requests = Int(value) ?? 0
            case "--runs": runs = Int(value) ?? 0
            default: fail("unknown option \(flag)")
            }
        }
        guard !url.isEmpty, !key.isEmpty, !secret.isEmpty, connections > 0, requests > 0, runs > 0 else {
            fail("usage: ordersync-bench simulator --url URL --key K --secret S [--connections N] [--requests N] [--runs N]")
        }
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        let (baseURL, apiKey) = (url, key)
        let symmetricKey = SymmetricKey(data: Array(secret.utf8))

        @Sendable func one() async throws -> Bool {
            let query = "symbol=BTCUSDT&timestamp=\(Int64(Date().timeIntervalSince1970 * 1000))"
            let sig = HMAC<SHA256>.authenticationCode(for: Array(query.utf8), using: symmetricKey)
                .map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            var request = HTTPClientRequest(url: "\(baseURL)/fapi/v1/openOrders?\(query)&signature=\(sig)")
            request.headers.add(name: "X-MBX-APIKEY", value: apiKey)
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response.status.code == 200
        }

        print("simulator: signed GET /fapi/v1/openOrders?symbol=BTCUSDT, \(requests) requests over \(connections) connections, \(runs) runs")
        _ = try? await one()  // warm the pool
        var rates: [Double] = []
        let (total, lanes) = (requests, connections)
        for run in 1...runs {
            let start = ContinuousClock.now
            let failures = await withTaskGroup(of: Int.self) { group in
                for lane in 0..<lanes {
                    group.addTask {
                        var failed = 0
                        for _ in stride(from: lane, to: total, by: lanes) {
                            if (try? await one()) != true { failed += 1 }
                        }
                        return failed
                    }
                }
                return await group.reduce(0, +)
            }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = Double(requests) / seconds
            rates.append(rate)
            print(String(format: "  run %d: %.0f requests/s (%.2f s, %d failed)", run, rate, seconds, failures))
            if failures > 0 {
                try? await client.shutdown()
                fail("\(failures) requests failed: raise the simulator's weight limit or check the URL")
            }
        }
        let sorted = rates.sorted()
        print(
            String(
                format: "simulator median %.0f requests/s over %d runs (min %.0f, max %.0f)",
                sorted[sorted.count / 2],
                runs,
                sorted.first!,
                sorted.last!
            )
        )
        try? await client.shutdown()
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("ordersync-bench: \(message)\n".utf8))
        exit(2)
    }
}
