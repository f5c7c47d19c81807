import BinanceSimulator
import Foundation
import LocalStack
import OrderSyncApp
import SyncCore
import Testing

/// The exchange misbehaving under the running daemon (in-process stack): a 418 ban, clock skew,
/// truncated bodies, a listing slower than its deadline. The webhook keeps answering, nothing is
/// decided on bad data, and everything resumes when the exchange does.
@Suite struct MisbehaviourTests {
    /// A RECONCILE for the owner's accounts (a new idempotency key each time: not a replay).
    static func reconcile(_ stack: LiveStack) async throws -> [String: Any] {
        let key = UUID().uuidString
        let reply = try await WebhookEndToEndTests.send(
            stack,
            #"{"group_name": "public-trend", "order_type": "RECONCILE", "token": "wh-owner-token", "idempotency_key": "\#(key)"}"#
        )
        try #require(reply.status == 200, "\(reply.raw)")
        return try #require(reply.json["report"] as? [String: Any])
    }

    static func sections(_ report: [String: Any]) -> [[String: Any]] { (report["sections"] as? [[String: Any]]) ?? [] }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    @Test func aBanIsReportedTheWebhookKeepsServingAndPassesResumeAfterIt() async throws {
        try await WebhookEndToEndTests.withStack(ratePerSecond: 1000) { stack, path in
            let before = try await WebhookEndToEndTests.rows(path)
            // Banned until the checks below are done, however long they take on this machine.
            await stack.exchange.banUntilLifted(.futures, retryAfter: 1)
            let banned = try await Self.reconcile(stack)
            #expect(
                Self.sections(banned).allSatisfy { $0["coverage"] as? String == "failed" && ($0["error"] as? String)?.contains("banned") == true },
                "\(banned)"
            )
            // Cancels during the ban fail with the reason, and change nothing.
            let cancel = try await WebhookEndToEndTests.send(stack, WebhookEndToEndTests.cancel("grid-q", token: "wh-trader5-token"))
            #expect(cancel.status == 200 && cancel.totals["failed"] == 4 && cancel.totals["cancelled"] == 0, "\(cancel.raw)")
            #expect(try await WebhookEndToEndTests.rows(path) == before)
            let health = try await WebhookEndToEndTests.send(stack, "", path: "/healthz", method: .GET)
            #expect(health.status == 200 && health.json["last_pass_errors"] as? Int == 4)
            // After the ban: complete passes and working cancels again.
            await stack.exchange.liftBan(.futures)
            #expect(
                try await Self.eventually(30) {
                    Self.sections(try await Self.reconcile(stack)).allSatisfy { $0["coverage"] as? String == "complete" }
                }
            )
            let again = try await WebhookEndToEndTests.send(
                stack,
                WebhookEndToEndTests.cancel("grid-q", token: "wh-trader5-token", extra: #", "idempotency_key": "after-ban""#)
            )
            #expect(again.totals["cancelled"] == 4, "\(again.raw)")
        }
    }

    @Test func clockSkewAndTruncatedBodiesChangeNothingAndPass() async throws {
        try await WebhookEndToEndTests.withStack(ratePerSecond: 1000) { stack, path in
            let before = try await WebhookEndToEndTests.rows(path)
            for skew in [3_000, -3_000] as [Millis] {
                var faults = FaultSettings()
                faults.clockSkewMs = skew
                await stack.exchange.setFaults(faults)
                let report = try await Self.reconcile(stack)
                #expect(Self.sections(report).allSatisfy { $0["coverage"] as? String == "complete" }, "skew \(skew): \(report)")
            }
            var truncated = FaultSettings()
            truncated.truncateBody = 1
            await stack.exchange.setFaults(truncated)
            let report = try await Self.reconcile(stack)
            #expect(
                Self.sections(report).allSatisfy { $0["coverage"] as? String != "complete" && ($0["error"] as? String)?.isEmpty == false },
                "\(report)"
            )
            #expect(try await WebhookEndToEndTests.rows(path) == before, "nothing decided on unreadable listings")
            await stack.exchange.setFaults(FaultSettings())
            #expect(Self.sections(try await Self.reconcile(stack)).allSatisfy { $0["coverage"] as? String == "complete" })
        }
    }

    @Test func aListingSlowerThanItsDeadlineFailsAloneAndThePassGoesOn() async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stack = try await LiveStack.start(
            scenarioPath: WebhookEndToEndTests.scenario,
            databasePath: dir.appendingPathComponent("slow.sqlite").path
        ) { options, _ in
            // A deadline no loopback answer of a busy machine comes near (2 s once failed the
            // healthy accounts while other tests' blocking waits held the cooperative pool), and
            // an account that is not answered at all while the test runs.
            options.config.exchange.requestTimeoutMs = 4_000
        }
        await stack.exchange.holdUntilReleased([AccountID(3)])
        let report = try await Self.reconcile(stack)
        await stack.exchange.releaseHeld()
        await stack.stop()
        let byAccount = Dictionary(uniqueKeysWithValues: Self.sections(report).map { ($0["account_id"] as? Int ?? 0, $0) })
        #expect(byAccount[3]?["coverage"] as? String == "failed", "\(report)")
        #expect([1, 2, 4].allSatisfy { byAccount[$0]?["coverage"] as? String == "complete" }, "the other accounts are reconciled: \(report)")
        // The pass did not wait for an answer that never comes: every attempt failed on its own
        // deadline (no wall-clock figure is asserted).
        #expect((byAccount[3]?["error"] as? String)?.isEmpty == false, "\(report)")
    }
}
