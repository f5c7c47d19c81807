import Foundation

/// Issue #17: a sink that hangs must not slow a pass. Through the real binaries — `ordersync
/// simulate` and `ordersync serve` as processes, this one the client — on A accounts × N orders
/// with O foreign orphans each (every one an alert), twice per run in alternation: with the sinks
/// off (alerts only printed and recorded), and with a JSON webhook and a Telegram bot both pointed
/// at a loopback socket that accepts connections and never answers (each attempt waits for its
/// whole `timeout_ms`). Measured: serve's first pass (the one that raises every orphan's alert)
/// from its summary line, then P RECONCILE passes over every account from request to response.
enum AlertsBench {
    static func main(_ arguments: [String]) async {
        let values = flagValues(arguments[...])
        let accounts = Int(values["--accounts"] ?? "100") ?? 0
        let orders = Int(values["--orders"] ?? "20") ?? 0
        let orphans = Int(values["--orphans"] ?? "5") ?? 0
        let latency = Int(values["--latency-ms"] ?? "50") ?? -1
        let runs = Int(values["--runs"] ?? "3") ?? 0
        let passes = Int(values["--passes"] ?? "5") ?? 0
        guard accounts > 1, orders > 0, orphans > 0, runs > 0, passes > 0, latency >= 0, let binary = values["--binary"] else {
            FanoutBench.fail(
                "usage: ordersync-bench alerts --binary PATH [--accounts 100] [--orders 20] [--orphans 5] [--latency-ms 50] [--runs 3] [--passes 5]"
            )
        }
        guard FileManager.default.isExecutableFile(atPath: binary) else { FanoutBench.fail("--binary \(binary): not an executable") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-alerts-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenario = dir.appendingPathComponent("alerts.json").path
        FanoutBench.writeScenario(scenario, accounts: accounts, orders: orders, orphans: orphans)
        let hang = HangingSocket()
        let base = "[reconcile]\ninterval_seconds = 3600\nspread = 0.0\n[webhook]\nburst = 100\n"
        let hanging =
            base + "[alerts]\nwebhook_url = \"http://127.0.0.1:\(hang.port)/hook\"\nwebhook_secret = \"bench-secret\"\n"
            + "telegram_url = \"http://127.0.0.1:\(hang.port)\"\ntelegram_bot_token = \"1:bench\"\ntelegram_chat_id = \"-1\"\ntimeout_ms = 10000\n"
        let configs = [("sinks off", base), ("sinks hanging", hanging)].map { name, text in
            let path = dir.appendingPathComponent("\(name.replacingOccurrences(of: " ", with: "-")).toml").path
            do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { FanoutBench.fail("cannot write \(path)") }
            return (name, path)
        }
        print(
            "alerts: \(accounts) Binance futures accounts × \(orders) orders + \(orphans) foreign orphans each (\(accounts * orphans) alerts), \(latency) ms latency; a hanging sink: 127.0.0.1:\(hang.port) accepts and never answers"
        )
        // A new idempotency key each time: a repeated payload would be answered from the first.
        func reconcileBody(_ key: String) -> String {
            #"{"group_name": "fanout-public", "order_type": "RECONCILE", "token": "fan-owner", "idempotency_key": "\#(key)"}"#
        }
        var first: [String: [Double]] = [:]
        var later: [String: [Double]] = [:]
        var n = 0
        for run in 1...runs {
            for (name, config) in configs {
                n += 1
                let db = dir.appendingPathComponent("db-\(n).sqlite").path
                let load = Child.run(binary, ["load", "--db", db, "--scenario", scenario])
                guard load.status == 0 else { FanoutBench.fail("ordersync load: \(load.output)") }
                let sim = Child(
                    binary,
                    ["simulate", "--port", "0", "--scenario", scenario, "--latency-ms", "\(latency)", "--weight-limit", "100000000"]
                )
                defer { sim.stop() }
                guard let simLine = await sim.line(containing: "simulator listening on ") else { FanoutBench.fail("simulator: \(sim.output)") }
                let simulatorURL = FanoutBench.url(in: simLine)
                let serve = Child(
                    binary,
                    ["serve", "--config", config, "--db", db, "--listen", "127.0.0.1:0", "--futures-url", simulatorURL, "--spot-url", simulatorURL]
                )
                defer { serve.stop() }
                guard let line = await serve.line(containing: "webhook listening on ") else {
                    FanoutBench.fail("serve did not start: \(serve.output)")
                }
                let webhook = FanoutBench.url(in: line)
                guard let summary = await serve.line(containing: "pass 1 at ") else { FanoutBench.fail("no first pass: \(serve.output)") }
                // "…; errors 0; 1234 ms"
                guard
                    let ms = summary.split(separator: ";").last?.trimmingCharacters(in: .whitespaces).split(separator: " ").first.flatMap({
                        Double($0)
                    })
                else { FanoutBench.fail("no duration in \(summary)") }
                first[name, default: []].append(ms)
                var times: [Double] = []
                for p in 0..<passes {
                    let start = ContinuousClock.now
                    let (status, body) = await FanoutBench.post(webhook + "/api/webhook", reconcileBody("run-\(n)-pass-\(p)"))
                    guard status == 200 else { FanoutBench.fail("RECONCILE answered \(status): \(String(decoding: body, as: UTF8.self))") }
                    times.append(ClientBench.seconds(ContinuousClock.now - start) * 1000)
                }
                later[name, default: []] += times
                // Every orphan's alert was raised (printed by the log sink, on its own task) in both modes.
                func printedAlerts() -> Int { serve.output.components(separatedBy: "\n").filter { $0.hasPrefix("alert foreign_orphan: ") }.count }
                let printed = ContinuousClock.now + .seconds(60)
                while printedAlerts() < accounts * orphans && ContinuousClock.now < printed { try? await Task.sleep(for: .milliseconds(20)) }
                let alerted = printedAlerts()
                guard alerted == accounts * orphans else { FanoutBench.fail("\(name): \(alerted) orphan alerts, expected \(accounts * orphans)") }
                print(
                    String(
                        format:
                            "  run %d, %@: first pass %.0f ms, RECONCILE passes %@ ms; %d orphan alerts; connections held by the hanging socket so far %d",
                        run,
                        name,
                        ms,
                        times.map { String(format: "%.0f", $0) }.joined(separator: "/"),
                        alerted,
                        hang.pending
                    )
                )
            }
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        let (off, on) = ("sinks off", "sinks hanging")
        print(
            String(
                format:
                    "alerts medians: first pass %.0f ms with the sinks off, %.0f ms with both hanging (%.2f×); RECONCILE pass %.0f ms vs %.0f ms (%.2f×)",
                median(first[off]!),
                median(first[on]!),
                median(first[on]!) / median(first[off]!),
                median(later[off]!),
                median(later[on]!),
                median(later[on]!) / median(later[off]!)
            )
        )
    }
}

/// A loopback TCP socket that listens and never accepts: the kernel completes connections into its
/// backlog, and every request sent there waits for an answer that never comes.
final class HangingSocket: Sendable {
    let fd: Int32
    let port: Int

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 1024) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { FanoutBench.fail("cannot listen on loopback") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Connections waiting in the backlog (from /proc/net/tcp: the listening socket's rx queue).
    var pending: Int {
        let hex = String(format: "%04X", port)
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return -1 }
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            // local_address is field 1 (`0100007F:PORT`), st field 3 (0A: listening), queues field 4 (`tx:rx`).
            guard fields.count > 4, fields[1].hasSuffix(":" + hex), fields[3] == "0A" else { continue }
            return Int(fields[4].split(separator: ":").last ?? "", radix: 16) ?? -1
        }
        return -1
    }

    deinit { close(fd) }
}
