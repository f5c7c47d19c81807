import Foundation
import Testing

/// The deployment pieces under `deploy/` (issue #17): the systemd unit checked by systemd's own
/// verifier, the compose service, Dockerfile, Prometheus rules and Grafana dashboard by their
/// structure — and every metric they name is one the daemon registers.
@Suite struct DeploymentTests {
    static let deploy = CLITests.root.appendingPathComponent("deploy")

    static func text(_ path: String) throws -> String {
        try String(contentsOf: deploy.appendingPathComponent(path), encoding: .utf8)
    }

    /// Runs a program (an absolute path, or a name looked up in the system's directories); nil
    /// when it is not installed.
    static func run(_ program: String, _ arguments: [String], stdin: String? = nil) async throws -> CLITests.Result? {
        let candidates = program.hasPrefix("/") ? [program] : ["/usr/bin/", "/bin/", "/usr/local/bin/"].map { $0 + program }
        guard let path = candidates.first(where: FileManager.default.isExecutableFile) else { return nil }
        return try await CLITests.execute(path, arguments, stdin: stdin)
    }

    /// YAML as JSON, through PyYAML (scripts/bootstrap installs it into .build-py; else the system's).
    static func yaml(_ path: String) async throws -> Any {
        let script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"
        let venv = CLITests.root.appendingPathComponent(".build-py/bin/python").path
        let python = FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
        let result = try #require(try await run(python, ["-c", script], stdin: try text(path)), "python3 with PyYAML is needed")
        #expect(result.status == 0, "\(path): \(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// The metric names the daemon registers (`label: "ordersync_…"` in Sources).
    static func exported() throws -> Set<String> {
        var names: Set<String> = []
        let sources = CLITests.root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        let pattern = try Regex(#"label: "(ordersync_[a-z_]+)""#)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            for match in try String(contentsOf: url, encoding: .utf8).matches(of: pattern) {
                if let name = match.output[1].substring { names.insert(String(name)) }
            }
        }
        return names
    }

    /// Every `ordersync_…` series an expression names, each a registered metric (a histogram's
    /// `_bucket`, `_sum` and `_count` are its timer's).
    static func checkMetrics(_ expressions: [String], in what: String) throws {
        let exported = try exported()
        #expect(exported.contains("ordersync_passes_total") && exported.count >= 8, "\(exported)")
        let pattern = try Regex(#"ordersync_[a-z_]+"#)
        var named = 0
        for expression in expressions {
            for match in expression.matches(of: pattern) {
                named += 1
                var name = String(expression[match.range])
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && !exported.contains(name) {
                    name = String(name.dropLast(suffix.count))
                }
                #expect(exported.contains(name), "\(what) names \(name), which ordersync does not export")
            }
        }
        #expect(named > 0, "\(what) names no metric")
    }

    @Test func theSystemdUnitVerifiesAndRunsServe() async throws {
        let unit = try Self.text("systemd/ordersync.service")
        #expect(unit.contains("ExecStart=/usr/local/bin/ordersync serve --config /etc/ordersync/ordersync.toml"))
        #expect(unit.contains("EnvironmentFile=/etc/ordersync/ordersync.env") && unit.contains("KillSignal=SIGTERM"))
        let environment = try Self.text("systemd/ordersync.env.example")
        #expect(environment.contains("DATABASE_URL=") && environment.contains("SECRET_KEY="))
        // systemd's verifier, on a copy that starts the binary built here.
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("ordersync.service")
        try Data(unit.replacingOccurrences(of: "/usr/local/bin/ordersync", with: try CLITests.binary()).utf8).write(to: copy)
        if let verified = try await Self.run("systemd-analyze", ["verify", copy.path]) {
            #expect(verified.status == 0 && verified.stderr.isEmpty, "\(verified.stderr)")
        } else {
            print("DeploymentTests: systemd-analyze is not installed; the unit was checked by structure only")
        }
        // The command line it runs parses: `serve --help` with the same flags succeeds.
        #expect(try await CLITests.run(["serve", "--config", "/etc/ordersync/ordersync.toml", "--help"]).status == 0)
    }

    @Test func theComposeServiceJoinsTheOriginsProject() async throws {
        let compose = try #require(try await Self.yaml("docker/docker-compose.ordersync.yml") as? [String: Any])
        let service = try #require((compose["services"] as? [String: Any])?["ordersync"] as? [String: Any])
        #expect(service["image"] as? String == "ordersync:latest")
        #expect(service["command"] as? [String] == ["serve", "--listen", "0.0.0.0:8080"])
        let environment = try #require(service["environment"] as? [String: Any])
        // The origin's own DATABASE_URL, on its `postgres` service and `trading-network`.
        #expect((environment["DATABASE_URL"] as? String)?.contains("@postgres:5432/trading_system") == true)
        #expect(service["depends_on"] as? [String] == ["postgres"] && service["networks"] as? [String] == ["trading-network"])
        let dockerfile = try Self.text("docker/Dockerfile")
        let instructions = dockerfile.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix(" ") && !$0.isEmpty }.compactMap {
            $0.split(separator: " ").first.map(String.init)
        }
        let known: Set<String> = ["FROM", "RUN", "WORKDIR", "COPY", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD", "ENV", "ARG"]
        #expect(instructions.allSatisfy(known.contains), "\(instructions)")
        #expect(instructions.filter { $0 == "FROM" }.count == 2, "a build stage and a runtime stage")
        #expect(dockerfile.contains(#"ENTRYPOINT ["/usr/local/bin/ordersync"]"#) && dockerfile.contains("/healthz"))
        // Every directory it copies exists.
        for line in dockerfile.split(separator: "\n") where line.hasPrefix("COPY ") && !line.contains("--from") {
            let source = String(line.split(separator: " ")[1])
            #expect(FileManager.default.fileExists(atPath: CLITests.root.appendingPathComponent(source).path), "COPY \(source)")
        }
    }

    @Test func thePrometheusRulesNameOnlyExportedMetrics() async throws {
        let rules = try #require(try await Self.yaml("prometheus/ordersync-rules.yml") as? [String: Any])
        let groups = try #require(rules["groups"] as? [[String: Any]])
        let all = groups.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
        #expect(all.count >= 5)
        for rule in all {
            #expect(rule["alert"] is String && rule["expr"] is String && (rule["annotations"] as? [String: Any])?["summary"] is String, "\(rule)")
            #expect(["critical", "warning"].contains((rule["labels"] as? [String: Any])?["severity"] as? String), "\(rule)")
        }
        try Self.checkMetrics(all.compactMap { $0["expr"] as? String }, in: "prometheus/ordersync-rules.yml")
    }

    @Test func theGrafanaDashboardNamesOnlyExportedMetrics() throws {
        let data = try Data(contentsOf: Self.deploy.appendingPathComponent("grafana/ordersync-dashboard.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(dashboard["title"] as? String == "ordersync" && dashboard["uid"] as? String == "ordersync")
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 6 && Set(panels.compactMap { $0["id"] as? Int }).count == panels.count, "unique panel ids")
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count >= panels.count)
        try Self.checkMetrics(expressions, in: "grafana/ordersync-dashboard.json")
    }
}
