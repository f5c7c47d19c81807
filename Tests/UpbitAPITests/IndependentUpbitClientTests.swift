import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SyncCore
import Testing
import UpbitAPI
import UpbitSimulator

/// pyupbit (PyPI), an Upbit client this project did not write, against the Upbit simulator with
/// only its host changed; and ordersync's own client kept under a per-account limit by its pacer.
@Suite struct IndependentUpbitClientTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var python: String? {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["ORDERSYNC_PYTHON"], root.appendingPathComponent(".build-py/bin/python").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    static var required: Bool { python != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    /// The simulator on the wall clock (its per-second windows are real seconds).
    static func withSimulator(limits: UpbitExchange.Limits, _ body: (UpbitExchange, String) async throws -> Void) async throws {
        let exchange = UpbitExchange(limits: limits, clock: { Millis(Date().timeIntervalSince1970 * 1000) })
        await exchange.addAccount(accessKey: "access-1", secret: "secret-1", account: AccountID(1))
        let port = AsyncStream<Int>.makeStream()
        let app = UpbitSimulator(exchange: exchange).application { port.continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "test")))
        let run = Task { try await group.run() }
        defer { run.cancel() }
        guard let bound = await port.stream.first(where: { _ in true }) else {
            Issue.record("the simulator did not start")
            return
        }
        try await body(exchange, "http://127.0.0.1:\(bound)")
        await group.triggerGracefulShutdown()
        _ = try? await run.value
    }

    @Test(.enabled(if: required, "pyupbit is not installed: run scripts/test"))
    func pyupbitPlacesListsQueriesAndCancels() async throws {
        let python = try #require(Self.python, "pyupbit missing: scripts/test installs it into .build-py")
        try await Self.withSimulator(limits: UpbitExchange.Limits()) { exchange, base in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [Self.root.appendingPathComponent("Tests/python/independent_upbit_client.py").path, base, "access-1", "secret-1"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            try process.run()
            // Bounded: the script makes about 25 requests.
            let deadline = Date().addingTimeInterval(120)
            while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning { process.terminate() }
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            print(output)
            #expect(process.terminationStatus == 0, "\(output)")
            #expect(output.contains(" passed, 0 failed"))
            #expect(await exchange.wideCancels == 0)
            let truth = await exchange.truth()
            #expect(truth.count == 3 && truth.allSatisfy { $0.order.state == "cancel" }, "\(truth)")
        }
    }

    /// Three requests per second allowed: twelve queries through a client paced at three meet no
    /// 429 (however fast or slow the machine, the pacer never lets four go within a second).
    @Test func thePacerKeepsAClientUnderItsLimit() async throws {
        var limits = UpbitExchange.Limits()
        limits.perSecond["default"] = 3
        try await Self.withSimulator(limits: limits) { exchange, base in
            var client = UpbitClient(baseURL: base, accessKey: "access-1", secret: Secret("secret-1"))
            client.pacer = UpbitPacer(perSecond: 3)
            client.retriesAfter429 = 0
            for _ in 0..<12 { _ = try await client.openOrders(market: "KRW-BTC") }
            #expect(await exchange.refused == 0)
            #expect(await exchange.requestCounts["GET /v1/orders/open"] == 12)
        }
    }
}
