import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncCore

/// One HTTP exchange as the client sees it.
public struct HTTPReply: Sendable {
    public var status: Int
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]
    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why no reply came back. After `sent`, the request may have reached the exchange.
public struct TransportFailure: Error, Sendable {
    public var reason: String
    public var sent: Bool
}

/// Sends requests. `send` throws only `TransportFailure`.
public protocol HTTPTransport: Sendable {
    func send(method: String, url: String, headers: [(String, String)], timeout: Duration) async throws -> HTTPReply
    func shutdown() async
}

/// AsyncHTTPClient with a bounded pool of keep-alive connections per host (the default transport;
/// README § Measured compares it with URLSession).
public final class AsyncHTTPTransport: HTTPTransport {
    let client: HTTPClient

    public init(maxConnectionsPerHost: Int = 64) {
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnectionsPerHost)
        config.timeout = .init(connect: .seconds(5), read: .seconds(30))
        // No tracer is bootstrapped; without this each request still builds span attributes for the no-op tracer.
        config.tracing.tracer = nil
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    public func send(method: String, url: String, headers: [(String, String)], timeout: Duration) async throws -> HTTPReply {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let seconds = timeout.components.seconds
        let atto = timeout.components.attoseconds
        let deadline = TimeAmount.nanoseconds(seconds * 1_000_000_000 + atto / 1_000_000_000)
        do {
            let response = try await client.execute(request, timeout: deadline)
            let body = try await response.body.collect(upTo: 16 << 20)
            var fields: [String: String] = [:]
            for header in response.headers { fields[header.name.lowercased()] = header.value }
            return HTTPReply(status: Int(response.status.code), headers: fields, body: Array(buffer: body))
        } catch let error as HTTPClientError where error == .connectTimeout {
            throw TransportFailure(reason: "connect timeout", sent: false)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw TransportFailure(reason: "deadline exceeded", sent: true)
        } catch let error as HTTPClientError {
            throw TransportFailure(reason: "\(error)", sent: true)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // Connection refused and friends: the request never left.
            let text = "\(error)"
            throw TransportFailure(reason: text.count > 120 ? String(text.prefix(120)) : text, sent: !text.contains("refused"))
        }
    }

    public func shutdown() async { try? await client.shutdown() }
}

/// Time for the client: the local clock and a way to wait. Injected so tests can run weight
/// windows in virtual time.
public struct ClientClock: Sendable {
    public var now: @Sendable () -> Millis
    public var sleep: @Sendable (Millis) async throws -> Void

    public init(now: @escaping @Sendable () -> Millis, sleep: @escaping @Sendable (Millis) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    public static let system = ClientClock(
        now: { Int64(Date().timeIntervalSince1970 * 1000) },
        sleep: { ms in if ms > 0 { try await Task.sleep(for: .milliseconds(ms)) } }
    )
}
