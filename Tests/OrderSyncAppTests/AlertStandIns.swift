import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Loopback stand-ins for the alert sinks: the Telegram Bot API's `sendMessage` and a JSON
/// webhook receiver, one server, every request recorded. Each sink can be told to answer, to fail
/// (HTTP 500), or to hold its requests unanswered until released (a sink that hangs).
actor AlertReceiver {
    enum Mode: Sendable { case answer, fail, hang }

    struct Request: Sendable {
        var path: String
        /// By lower-cased name.
        var headers: [String: String]
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    /// The bots the Bot API knows (others get 401).
    let botTokens: Set<String>
    var modes: [String: Mode] = ["telegram": .answer, "webhook": .answer]
    private(set) var requests: [Request] = []
    /// Requests held by `hang`, answered by `release`.
    var held: [CheckedContinuation<Void, Never>] = []
    var heldCount: Int { held.count }

    init(botTokens: Set<String>) { self.botTokens = botTokens }

    func set(_ sink: String, _ mode: Mode) { modes[sink] = mode }

    func release() {
        let waiting = held
        held = []
        for request in waiting { request.resume() }
    }

    func received(_ sink: String) -> [Request] {
        requests.filter { sink == "telegram" ? $0.path.hasSuffix("/sendMessage") : $0.path == "/hook" }
    }

    /// Records the request; what to answer once its sink's mode allows.
    func handle(_ request: Request) async -> (status: Int, body: String) {
        requests.append(request)
        let sink = request.path == "/hook" ? "webhook" : "telegram"
        if modes[sink] == .hang { await withCheckedContinuation { held.append($0) } }
        if modes[sink] == .fail { return (500, #"{"ok": false, "error_code": 500, "description": "Internal Server Error"}"#) }
        if sink == "telegram" {
            guard botTokens.contains(where: { request.path == "/bot\($0)/sendMessage" }) else {
                return (401, #"{"ok": false, "error_code": 401, "description": "Unauthorized"}"#)
            }
            return (200, #"{"ok": true, "result": {"message_id": \#(requests.count)}}"#)
        }
        return (200, "{}")
    }

    /// Starts the server on a free loopback port; returns its base URL and a stop function.
    static func start(_ receiver: AlertReceiver) async throws -> (url: String, stop: @Sendable () async -> Void) {
        let router = Router()
        let handler: @Sendable (Hummingbird.Request, BasicRequestContext) async throws -> Response = { request, _ in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let body = try await request.body.collect(upTo: 1 << 20)
            let answer = await receiver.handle(Request(path: request.uri.path, headers: headers, body: Data(buffer: body)))
            return Response(
                status: HTTPResponse.Status(code: answer.status),
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body))
            )
        }
        router.post("/hook", use: handler)
        router.post(":bot/sendMessage", use: handler)
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        var quiet = Logger(label: "alert-receiver")
        quiet.logLevel = .critical
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { port.yield($0.localAddress?.port ?? 0) },
            logger: quiet
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        let run = Task { try? await group.run() }
        guard let bound = await ports.first(where: { _ in true }) else { throw CancellationError() }
        return (
            "http://127.0.0.1:\(bound)",
            {
                await receiver.release()
                await group.triggerGracefulShutdown()
                await run.value
            }
        )
    }
}
