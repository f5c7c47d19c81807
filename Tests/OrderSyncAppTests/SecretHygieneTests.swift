import Foundation
import GRDB
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Recognisable secrets and tokens through everything the real binaries write: `reconcile` (text
/// and JSON, with an account whose secret the exchange rejects), `serve` (stdout, stderr, webhook
/// answers to right and wrong tokens, /metrics, /healthz), `cancel-all`, and every `sync_` table.
/// None of them may contain a secret, a token or a request signature.
@Suite struct SecretHygieneTests {
    static let sentinels = [
        "wh-secret-", "SENTINEL-DB-SECRET", "wh-owner-token", "wh-sub-a-token", "wh-trader5-token", "SENTINEL-WRONG-TOKEN",
        "signature=", "SENTINEL-TG-TOKEN", "SENTINEL-HOOK-SECRET",
    ]

    static func scan(_ text: String, _ origin: String) {
        for s in sentinels { #expect(!text.contains(s), "\(origin) contains \(s)") }
    }

    @Test func noSecretTokenOrSignatureIsEverWritten() async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("secrets.sqlite").path
        // The database's copy of account 3's secret differs from the exchange's: its requests fail
        // with a signature error, which must be reported without the secret or the signature.
        let original = try String(contentsOfFile: CrashRecoveryTests.scenario, encoding: .utf8)
        let scenario = dir.appendingPathComponent("secrets.json").path
        try original.replacingOccurrences(of: "\"wh-secret-3\"", with: "\"SENTINEL-DB-SECRET-3\"").write(
            toFile: scenario,
            atomically: true,
            encoding: .utf8
        )
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", scenario]).status == 0)
        let (base, simulator) = try await ReconcileEndToEndTests.simulator(CrashRecoveryTests.scenario)
        defer { simulator.terminate() }
        let flags = ["--db", db, "--spot-url", base, "--futures-url", base]

        for format in ["text", "json"] {
            let r = try await CLITests.run(["reconcile", "--format", format] + flags)
            #expect(r.status == 2 && (r.stdout + r.stderr).contains("3"), "account 3 fails")
            Self.scan(r.stdout + r.stderr, "reconcile --format \(format)")
        }
        let cli = try await CLITests.run(["cancel-all", "--strategy", "public-trend", "--execute", "--format", "json"] + flags)
        #expect(cli.status == 1, "account 3's cancels fail: \(cli.stderr)")
        Self.scan(cli.stdout + cli.stderr, "cancel-all")

        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: try CLITests.binary())
        serve.arguments = ["serve", "--interval-seconds", "0.3", "--listen", "127.0.0.1:0"] + flags
        // Alert sinks with recognisable secrets, on a loopback port nothing listens on: every
        // attempt fails, and its error is recorded in sync_alerts (scanned below) without them.
        serve.environment = ProcessInfo.processInfo.environment.merging(
            [
                "TELEGRAM_BOT_TOKEN": "SENTINEL-TG-TOKEN", "TELEGRAM_CHAT_ID": "-5", "ORDERSYNC_ALERTS_TELEGRAM_URL": "http://127.0.0.1:1",
                "ORDERSYNC_ALERTS_WEBHOOK_URL": "http://127.0.0.1:1/hook", "ORDERSYNC_ALERTS_WEBHOOK_SECRET": "SENTINEL-HOOK-SECRET",
                "ORDERSYNC_ALERTS_RETRY_BACKOFF_MS": "10", "ORDERSYNC_ALERTS_MAX_ATTEMPTS": "2",
            ],
            uniquingKeysWith: { _, new in new }
        )
        let out = Pipe()
        let err = Pipe()
        serve.standardOutput = out
        serve.standardError = err
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        let started = try await CLITests.read(out) { $0.contains("webhook listening") && $0.contains("pass ") }
        let hook = try #require(
            started.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("http://127.0.0.1:") && !$0.hasPrefix(base) }.map(
                String.init
            )
        )
        var answers = ""
        for body in [
            #"{"group_name": "grid-q", "order_type": "CANCEL_ALL_ORDER", "token": "wh-trader5-token"}"#,
            #"{"group_name": "grid-q", "order_type": "CANCEL_ALL_ORDER", "token": "SENTINEL-WRONG-TOKEN"}"#,
            #"{"group_name": "no-such", "order_type": "CANCEL_ALL_ORDER", "user_token": "SENTINEL-WRONG-TOKEN"}"#,
            #"{"group_name": "public-trend", "order_type": "RECONCILE", "token": "wh-owner-token"}"#,
            #"{"group_name": "public-trend", "order_type": "MARKET", "token": "SENTINEL-WRONG-TOKEN"}"#,
            #"{"group_name": "public-trend", "order_type": "CANCEL_ALL_ORDER", "token": "wh-sub-a-token", "timestamp": 1}"#,
        ] {
            var request = URLRequest(url: URL(string: hook + "/api/webhook")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
            let (data, _) = try await URLSession.shared.data(for: request)
            answers += String(decoding: data, as: UTF8.self)
        }
        for path in ["/metrics", "/healthz"] {
            answers += String(decoding: try await URLSession.shared.data(from: URL(string: hook + path)!).0, as: UTF8.self)
        }
        #expect(answers.contains("forbidden") && answers.contains("ordersync_webhook_requests_total"))
        Self.scan(answers, "webhook answers, /metrics, /healthz")
        // The manual orders' alerts reached the sinks and their failures were recorded.
        #expect(
            try await MisbehaviourTests.eventually(30) {
                try await DatabaseQueue(path: db).read {
                    try Int.fetchOne($0, sql: "SELECT count(*) FROM sync_alerts WHERE sink IN ('telegram', 'webhook') AND last_error IS NOT NULL")
                } ?? 0 > 0
            }
        )
        serve.terminate()
        try await CrashRecoveryTests.waitForExit(serve)
        Self.scan(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) + started, "serve stdout")
        Self.scan(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self), "serve stderr")

        // Every table ordersync writes (the origin app's own tables hold the secrets by design).
        let tables = try await DatabaseQueue(path: db).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sync_%'")
        }
        #expect(tables.count >= 7)
        for line in try CLITests.dump(db) where tables.contains(where: { line.hasPrefix($0 + " ") }) { Self.scan(line, "the database") }
        let failures =
            try await DatabaseQueue(path: db).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sync_findings WHERE account_id = 3") } ?? 0
        #expect(failures > 0, "account 3's failed listings are recorded (and scanned)")
    }
}
