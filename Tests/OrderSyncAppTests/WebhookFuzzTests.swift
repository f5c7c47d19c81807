import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OrderSyncApp
import SyncCore
import Testing

/// A seeded mutation fuzzer over the webhook: valid payloads bent every way (keys dropped, doubled,
/// re-cased, aliased; values of the wrong type, huge, nested, non-ASCII), raw bytes, truncations,
/// odd content types, methods and paths — none with a valid token. Zero 5xx, nothing changes in the
/// database or on the exchange, and the server still answers a valid request at the end.
@Suite struct WebhookFuzzTests {
    @Test func tenThousandHostileRequestsBreakNothing() async throws {
        let seed = SeededGenerator.seed(fallback: 0xF022, environment: ProcessInfo.processInfo.environment)
        print("WebhookFuzzTests seed \(seed) (ORDERSYNC_SEED overrides)")
        var rng = SeededGenerator(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        let values = [
            #""public-trend""#, #""grid-q""#, #""retired""#, #""""#, "null", "true", "0", "-1", "1e309", "[]", "{}",
            #"{"a": [1, {"b": null}]}"#, #""\u0000""#, #""ü🙂""#, #""CANCEL_ALL_ORDER""#, #""cancel-all order""#,
            #""RECONCILE""#, #""BTC/USDT""#, #""buy""#, #""wh-owner-token ""#, #""WH-OWNER-TOKEN""#,
            "\"" + String(repeating: "A", count: 300) + "\"", "123456789012345678901234567890", #""1700000000000""#,
        ]
        let keys = [
            "group_name", "GROUP_NAME", "order_type", "Order_Type", "token", "user_token", "USER_TOKEN", "exchange", "platform",
            "market_type", "symbol", "side", "idempotency_key", "timestamp", "test_mode", "orders", "stopprice", "qty_per", "x",
        ]
        let wrongTokens = [#""wh-owner-toke""#, #""wh-owner-tokenX""#, #""""#, "null", "7", #""wh-sub-a""#, #""' OR 1=1 --""#]

        try await WebhookEndToEndTests.withStack(ratePerSecond: 1_000_000) { stack, path in
            let dump = try CLITests.dump(path)
            let open = await WebhookEndToEndTests.open(stack)
            var statuses: [Int: Int] = [:]
            for n in 0..<10_000 {
                var body: String
                var contentType: String? = "application/json"
                var method: HTTPMethod = .POST
                var target = "/api/webhook"
                switch Int.random(in: 0..<10, using: &rng) {
                case 0:  // raw bytes
                    body = String(
                        decoding: (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) },
                        as: UTF8.self
                    )
                case 1:  // a truncated valid payload
                    let valid = WebhookEndToEndTests.cancel("public-trend", token: "wh-owner-token")
                    body = String(valid.prefix(Int.random(in: 0..<valid.count, using: &rng)))
                case 2:  // odd transport
                    body = WebhookEndToEndTests.cancel("public-trend", token: pick(wrongTokens).replacingOccurrences(of: "\"", with: ""))
                    contentType = pick([
                        nil, "text/plain", "application/json; charset=utf-8", "application/jsonx", "APPLICATION/JSON", "multipart/form-data",
                    ])
                    method = pick([.POST, .GET, .PUT, .DELETE])
                    target = pick([
                        "/api/webhook", "/api/webhook/", "/API/WEBHOOK", "/healthz", "/metrics", "/api", "/%00", "/api/webhook?token=wh-owner-token",
                    ])
                default:  // a payload bent key by key, never with a valid token
                    // Mostly well-formed groups and order types, so that most requests reach the token check.
                    let group = Bool.random(using: &rng) ? pick([#""public-trend""#, #""grid-q""#, #""retired""#, #""nope""#]) : pick(values)
                    let type = Bool.random(using: &rng) ? pick([#""CANCEL_ALL_ORDER""#, #""cancel-all order""#, #""reconcile""#]) : pick(values)
                    var fields: [(String, String)] = [("group_name", group), ("order_type", type), ("token", pick(wrongTokens))]
                    for _ in 0..<Int.random(in: 0...5, using: &rng) { fields.append((pick(keys), pick(values))) }
                    if Bool.random(using: &rng) { fields.remove(at: Int.random(in: 0..<fields.count, using: &rng)) }
                    // Any token-carrying key gets a wrong token.
                    fields = fields.map { ["token", "user_token", "USER_TOKEN"].contains($0.0) ? ($0.0, pick(wrongTokens)) : $0 }
                    fields.shuffle(using: &rng)
                    body = "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
                    if Int.random(in: 0..<20, using: &rng) == 0 { body = "[" + body + "]" }
                }
                let reply = try await WebhookEndToEndTests.send(stack, body, path: target, method: method, contentType: contentType)
                statuses[reply.status, default: 0] += 1
                #expect(reply.status < 500, "request \(n) (seed \(seed)): \(reply.status) \(reply.raw) for \(body.prefix(200))")
                if reply.status == 200 && target.hasPrefix("/api/webhook") {
                    Issue.record("request \(n) (seed \(seed)) was accepted without a valid token: \(body.prefix(200))")
                }
            }
            print("WebhookFuzzTests statuses: \(statuses.sorted { $0.key < $1.key })")
            #expect(try CLITests.dump(path) == dump, "nothing changed in the database")
            #expect(await WebhookEndToEndTests.open(stack) == open, "nothing changed on the exchange")
            let valid = try await WebhookEndToEndTests.send(stack, WebhookEndToEndTests.cancel("grid-q", token: "wh-trader5-token"))
            #expect(valid.status == 200 && valid.totals["cancelled"] == 4, "the server still serves")
        }
    }
}

/// Requests generated from docs/openapi.yaml's `Payload` schema: every declared property, with
/// values of its declared type (enums, lengths at and past their bounds) and of every other
/// type, never with a valid token. Zero 5xx, no change, and the answers are the documented ones.
@Suite struct SchemaFuzzTests {
    @Test func fiveThousandSchemaDrivenRequests() async throws {
        let doc = try await OpenAPITests.document()
        let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let payload = try #require(schemas["Payload"] as? [String: Any])
        let properties = try #require(payload["properties"] as? [String: [String: Any]])
        let required = Set((payload["required"] as? [String]) ?? [])
        let documented = Set(
            (((doc["paths"] as? [String: Any])?["/api/webhook"] as? [String: Any])?["post"] as? [String: Any])
                .flatMap { ($0["responses"] as? [String: Any])?.keys.map { Int($0) ?? 0 } } ?? []
        )
        let seed = SeededGenerator.seed(fallback: 0x5C4E, environment: ProcessInfo.processInfo.environment)
        print("SchemaFuzzTests seed \(seed) (ORDERSYNC_SEED overrides); properties: \(properties.keys.sorted())")
        var rng = SeededGenerator(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        func anyValue() -> String { pick(["null", "true", "1", "-7", "1.5e300", "\"\"", "\"x\"", "[]", "{}", "[1,\"a\"]", #"{"k": null}"#]) }
        /// A value of the property's declared type (or a wrong one a third of the time).
        func value(_ name: String, _ schema: [String: Any]) -> String {
            if Int.random(in: 0..<3, using: &rng) == 0 { return anyValue() }
            if name == "token" { return pick([#""wh-owner-toke""#, #""nope""#, #""""#]) }
            if name == "group_name" { return pick([#""public-trend""#, #""grid-q""#, #""retired""#, #""unknown""#]) }
            if name == "order_type" { return pick([#""CANCEL_ALL_ORDER""#, #""reconcile""#, #""cancel all order""#, #""LIMIT""#, #""STOP_LIMIT""#]) }
            if let values = schema["enum"] as? [String] { return "\"\(pick(values))\"" }
            let types = (schema["type"] as? [String]) ?? [(schema["type"] as? String) ?? "string"]
            switch pick(types) {
            case "integer": return pick(["0", "1700000000000", "\(Int64(Date().timeIntervalSince1970 * 1000))", "-1", "99999999999999999999"])
            case "boolean": return pick(["true", "false"])
            default:
                let max = (schema["maxLength"] as? Int) ?? 40
                return "\"" + String(repeating: pick(["a", "Z", "9", "/", "ü"]), count: pick([0, 1, max, max + 1])) + "\""
            }
        }
        try await WebhookEndToEndTests.withStack(ratePerSecond: 1_000_000) { stack, path in
            let dump = try CLITests.dump(path)
            let open = await WebhookEndToEndTests.open(stack)
            var statuses: [Int: Int] = [:]
            for n in 0..<5_000 {
                var fields: [(String, String)] = []
                for (name, schema) in properties where required.contains(name) || name == "token" || Bool.random(using: &rng) {
                    if name == "token" && Int.random(in: 0..<10, using: &rng) == 0 { continue }  // sometimes no token
                    fields.append((Bool.random(using: &rng) ? name : name.uppercased(), value(name, schema)))
                }
                fields.shuffle(using: &rng)
                let body = "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
                let reply = try await WebhookEndToEndTests.send(stack, body)
                statuses[reply.status, default: 0] += 1
                #expect(
                    documented.contains(reply.status) && reply.status < 500,
                    "request \(n) (seed \(seed)): \(reply.status) for \(body.prefix(200))"
                )
                #expect(reply.status != 200, "request \(n) (seed \(seed)) acted without a valid token: \(body.prefix(200))")
            }
            print("SchemaFuzzTests statuses: \(statuses.sorted { $0.key < $1.key })")
            let openAfter = await WebhookEndToEndTests.open(stack)
            #expect(try CLITests.dump(path) == dump && openAfter == open, "nothing changed")
        }
    }
}

/// schemathesis (PyPI; `scripts/bootstrap` installs it into `.build-py/`) against
/// docs/openapi.yaml and the live webhook: examples, boundary values and fuzzed payloads, positive
/// and negative, with every check — a schema-valid payload the server refuses, a schema-invalid one
/// it accepts, an undocumented status, header or body, or a 5xx fails the build. The schema cannot
/// say "recent", so the server runs with a `max_lag_ms` no timestamp exceeds.
@Suite struct SchemathesisTests {
    static let st = CLITests.root.appendingPathComponent(".build-py/bin/st").path
    static var required: Bool { FileManager.default.isExecutableFile(atPath: st) || ProcessInfo.processInfo.environment["CI"] != nil }

    @Test(.enabled(if: required, "schemathesis is not installed: run scripts/test"))
    func theSchemaAndTheServerAgree() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.st), "schemathesis missing: scripts/bootstrap installs it into .build-py")
        let seed = SeededGenerator.seed(fallback: 20_261_201, environment: ProcessInfo.processInfo.environment)
        print("SchemathesisTests: seed \(seed), 300 examples per phase")
        try await WebhookEndToEndTests.withStack(ratePerSecond: 1_000_000, maxLagMs: 9_000_000_000_000_000) { stack, path in
            let dump = try CLITests.dump(path)
            let open = await WebhookEndToEndTests.open(stack)
            let dir = try CLITests.tempDir()  // schemathesis keeps its Hypothesis database in the working directory
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try await CLITests.execute(
                Self.st,
                [
                    "run", CLITests.root.appendingPathComponent("docs/openapi.yaml").path, "--url", stack.webhookURL,
                    "--checks", "all", "--max-examples", "300", "--seed", String(seed), "--request-timeout", "30", "--no-color",
                ],
                in: dir
            )
            let text = result.stdout + result.stderr
            #expect(result.status == 0, "schemathesis found a difference:\n\(text.suffix(4000))")
            #expect(text.contains("passed") && !text.contains("FAILURES"), "\(text.suffix(2000))")
            if let line = text.split(separator: "\n").first(where: { $0.contains("generated") }) {
                print("SchemathesisTests: \(line.trimmingCharacters(in: .whitespaces))")
            }
            let openAfter = await WebhookEndToEndTests.open(stack)
            #expect(try CLITests.dump(path) == dump && openAfter == open, "nothing changed")
        }
    }
}
