import Foundation

/// A client from PyPI that this project did not write (python-binance, pyupbit, python-bithumb),
/// run as a script against a simulator: `scripts/bootstrap` installs them into `.build-py/`; under
/// CI their absence is a failure, elsewhere their tests are skipped with a note.
public enum IndependentClient {
    /// The repository's root (this file is Sources/SyncTestSupport/…).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `ORDERSYNC_PYTHON`, else `.build-py/bin/python`, when executable.
    public static var python: String? {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["ORDERSYNC_PYTHON"], root.appendingPathComponent(".build-py/bin/python").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether the tests must run (the interpreter is there, or this is CI).
    public static var required: Bool { python != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    /// Runs `Tests/python/<script>` with `arguments`, bounded by `deadline` seconds (it is killed
    /// after); its exit status and its output (stdout and stderr), which is also printed.
    public static func run(_ script: String, _ arguments: [String], deadline: TimeInterval = 120) async throws -> (status: Int32, output: String) {
        guard let python else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "no python: scripts/bootstrap installs it"]) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root.appendingPathComponent("Tests/python/" + script).path] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let end = Date().addingTimeInterval(deadline)
        while process.isRunning && Date() < end { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        print(output)
        return (process.terminationStatus, output)
    }
}

/// A JSON object's field names and their JSON types (`string`, `number`, `array`, `object`, `null`):
/// how a simulator's answer is held to an official example's shape.
public func jsonShape(_ object: Any) -> [String: String] {
    guard let dict = object as? [String: Any] else { return [:] }
    return dict.mapValues { value in
        switch value {
        case is String: return "string"
        case is NSNumber: return "number"
        case is [Any]: return "array"
        case is [String: Any]: return "object"
        default: return "null"
        }
    }
}
