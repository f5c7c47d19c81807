import Foundation
import Testing

/// The venue boundary (issue #13): the core and the runtime name no exchange — each venue lives in
/// its own module and the composition root routes accounts to it by `accounts.exchange`.
@Suite struct BoundaryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["Sources/SyncCore", "Sources/SyncRuntime"])
    func noFileOfTheCoreOrTheRuntimeNamesAnExchange(_ directory: String) throws {
        let dir = Self.root.appendingPathComponent(directory)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count > 3, "\(directory) has its sources")
        for file in files {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8).lowercased()
            for name in ["binance", "upbit", "bithumb", "bybit", "okx", "fapi"] {
                #expect(!text.contains(name), "\(directory)/\(file) names \(name)")
            }
        }
    }
}
