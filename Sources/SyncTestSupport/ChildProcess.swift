import Foundation
import Synchronization

/// A program run to its end by a test, waited for by callbacks rather than by blocking a thread.
///
/// The cooperative pool has as many threads as the machine has cores, and the servers a test
/// process runs (simulators, webhooks) need that pool to answer: `waitUntilExit` or
/// `readDataToEndOfFile` on it, in two tests at once on a two-core machine, stalls every other
/// test's server until the child exits — which is how loopback answers came to miss deadlines.
public enum ChildProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String

        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// Runs `executable` with `arguments` (and `stdin`, closed after), collecting its output.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        in directory: URL? = nil,
        stdin: String? = nil
    ) async throws -> Result {
        final class Output: Sendable {
            let text = Mutex((out: Data(), err: Data()))
        }
        let output = Output()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.text.withLock { $0.out.append(data) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.text.withLock { $0.err.append(data) }
        }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            // A child that exits before reading its input must not fail the test process.
            if let stdin { try? input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8)) }
            try? input.fileHandleForWriting.close()
        }
        // What is still in the pipes once the process has exited.
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        let restOut = out.fileHandleForReading.readDataToEndOfFile()
        let restErr = err.fileHandleForReading.readDataToEndOfFile()
        let (stdout, stderr) = output.text.withLock { ($0.out + restOut, $0.err + restErr) }
        return Result(status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Reads a running child's pipe until `done` holds for what was read (checked after taking
    /// what is there, so `{ _ in true }` takes what has been written so far), the pipe ends, or
    /// `timeout` passes — without blocking a thread: the descriptor is made non-blocking and an
    /// empty pipe is polled every 20 ms (`availableData` blocked a cooperative thread until the
    /// child wrote, stalling the servers of every other test on a two-core machine).
    public static func read(_ pipe: Pipe, timeout: Duration = .seconds(30), until done: (String) -> Bool) async throws -> String {
        let fd = pipe.fileHandleForReading.fileDescriptor
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        // Blocking again after: a caller may read the rest to the end of the file once the child exits.
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = ContinuousClock.now + timeout
        while true {
            var ended = false
            while true {
                let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    bytes += chunk[0..<n]
                } else {
                    ended = n == 0 || errno != EAGAIN && errno != EINTR
                    break
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if done(text) || ended || ContinuousClock.now >= deadline { return text }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
