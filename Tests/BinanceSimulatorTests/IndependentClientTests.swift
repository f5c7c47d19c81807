import BinanceSimulator
import Foundation
import SyncCore
import Testing

/// python-binance (PyPI), a client this project did not write, against the simulator with only
/// its base URLs changed. `scripts/test` installs it into `.build-py/`; under CI its absence is a
/// failure, elsewhere the test is skipped with a note.
@Suite struct IndependentClientTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var python: String? {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["ORDERSYNC_PYTHON"], root.appendingPathComponent(".build-py/bin/python").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    static var required: Bool { python != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    @Test(.enabled(if: required, "python-binance is not installed: run scripts/test"))
    func pythonBinanceTradesOnSpotAndFutures() async throws {
        let python = try #require(Self.python, "python-binance missing: scripts/test installs it into .build-py")
        try await Harness.with(clock: .wall()) { h in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [Self.root.appendingPathComponent("Tests/python/independent_client.py").path, h.base, Harness.key, Harness.secret]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            try process.run()
            // Bounded: the script makes about 40 requests.
            let deadline = Date().addingTimeInterval(120)
            while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning { process.terminate() }
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            print(output)
            #expect(process.terminationStatus == 0, "\(output)")
            #expect(output.contains(" passed, 0 failed"))
            // It never used a wide cancel, and the exchange's truth agrees with what it saw.
            #expect(await h.exchange.wideCancelCalls.isEmpty)
            let truth = await h.exchange.truth()
            #expect(truth.filter { $0.status.isOpen }.isEmpty, "\(truth)")
            #expect(truth.filter { $0.status == .canceled }.count == 6)
        }
    }
}
