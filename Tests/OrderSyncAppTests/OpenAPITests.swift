import Foundation
import OrderSyncApp
import SyncCore
import Testing

/// docs/openapi.yaml against the server: the same paths and methods, every error code the server
/// can answer documented with its status, and the live server answering as documented.
@Suite struct OpenAPITests {
    static func document() async throws -> [String: Any] {
        let python = CLITests.root.appendingPathComponent(".build-py/bin/python").path
        let result = try await CLITests.execute(
            FileManager.default.isExecutableFile(atPath: python) ? python : "/usr/bin/python3",
            [
                "-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
                CLITests.root.appendingPathComponent("docs/openapi.yaml").path,
            ]
        )
        try #require(result.status == 0, "PyYAML missing: scripts/bootstrap installs it into .build-py")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test func theDocumentDescribesTheServer() async throws {
        let doc = try await Self.document()
        #expect((doc["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        #expect(paths.mapValues { Set($0.keys) } == ["/api/webhook": ["post"], "/healthz": ["get"], "/metrics": ["get"]])
        let responses = try #require((paths["/api/webhook"]?["post"] as? [String: Any])?["responses"] as? [String: Any])
        let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let codes = try #require(
            ((((schemas["Error"] as? [String: Any])?["properties"] as? [String: Any])?["error"] as? [String: Any])?["properties"]
                as? [String: Any]).flatMap { ($0["code"] as? [String: Any])?["enum"] as? [String] }
        )
        #expect(Set(codes) == Set(WebhookError.Code.allCases.map(\.rawValue)), "every error code, and only those")
        for code in WebhookError.Code.allCases {
            #expect(
                responses[String(WebhookError(code, "").statusCode)] != nil,
                "\(code.rawValue) → \(WebhookError(code, "").statusCode) is documented"
            )
        }
        // The error description names each code with its status.
        let errorText = try #require(
            ((doc["components"] as? [String: Any])?["responses"] as? [String: Any]).flatMap {
                ($0["Error"] as? [String: Any])?["description"] as? String
            }
        )
        for code in WebhookError.Code.allCases {
            #expect(
                errorText.contains("\(WebhookError(code, "").statusCode) \(code.rawValue)") || errorText.contains(", \(code.rawValue)"),
                "\(code.rawValue)"
            )
        }

        // The live server: every documented path answers, with a documented status.
        try await WebhookEndToEndTests.withStack { stack, _ in
            for (path, methods) in paths {
                for (method, operation) in methods {
                    let documented = Set(((operation as? [String: Any])?["responses"] as? [String: Any])?.keys.map { $0 } ?? [])
                    let reply = try await WebhookEndToEndTests.send(stack, "{}", path: path, method: method == "post" ? .POST : .GET)
                    #expect(documented.contains(String(reply.status)), "\(method) \(path) → \(reply.status) is documented")
                }
            }
            let ok = try await WebhookEndToEndTests.send(
                stack,
                #"{"group_name": "grid-q", "order_type": "CANCEL_ALL_ORDER", "token": "wh-trader5-token"}"#
            )
            let required = try #require((schemas["CancelReport"] as? [String: Any])?["required"] as? [String])
            #expect(ok.status == 200 && Set(required).isSubset(of: Set(ok.result.keys)), "\(ok.json)")
        }
    }
}
