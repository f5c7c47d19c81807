import BinanceSimulator
import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// python-binance (PyPI), a client this project did not write, against the simulator with only
/// its base URLs changed. `scripts/test` installs it into `.build-py/`; under CI its absence is a
/// failure, elsewhere the test is skipped with a note.
@Suite struct IndependentClientTests {
    @Test(.enabled(if: IndependentClient.required, "python-binance is not installed: run scripts/test"))
    func pythonBinanceTradesOnSpotAndFutures() async throws {
        try await Harness.with(clock: .wall()) { h in
            // Bounded: the script makes about 40 requests.
            let (status, output) = try await IndependentClient.run("independent_client.py", [h.base, Harness.key, Harness.secret])
            #expect(status == 0, "\(output)")
            #expect(output.contains(" passed, 0 failed"))
            // It never used a wide cancel, and the exchange's truth agrees with what it saw.
            #expect(await h.exchange.wideCancelCalls.isEmpty)
            let truth = await h.exchange.truth()
            #expect(truth.filter { $0.status.isOpen }.isEmpty, "\(truth)")
            #expect(truth.filter { $0.status == .canceled }.count == 6)
        }
    }
}
