import NIOCore
import NIOPosix

extension EntryPoints {
    /// Runs Swift concurrency's jobs on NIO's event loops (the threads AsyncHTTPClient, Hummingbird
    /// and PostgresNIO already do their I/O on) instead of a second pool of threads. Every request
    /// of a pass is an await on a response that an event loop receives: with two pools, each one
    /// wakes a thread of the other and goes idle — on the Upbit pass of issue #13 about a tenth of
    /// its CPU. Both binaries call this first, from the main thread, before any task runs (NIO's
    /// conditions for it); `ORDERSYNC_NIO_EXECUTOR=0` keeps Swift's own pool. Nothing here
    /// blocks an event loop for long: SQLite work is per account, small, and already ran on the
    /// two threads of the cooperative pool before.
    @discardableResult
    public static func runTasksOnEventLoops(environment: [String: String]) -> Bool {
        guard environment["ORDERSYNC_NIO_EXECUTOR"] != "0" else { return false }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
