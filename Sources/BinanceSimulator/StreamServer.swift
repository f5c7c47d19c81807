import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import SimulatorSupport
import SyncCore

/// The WebSocket side of the simulator: USDⓈ-M futures' `/private/ws?listenKey=…` (events
/// unwrapped) and spot's WebSocket API at `/ws-api/v3` (`userDataStream.subscribe.signature`,
/// events wrapped with their `subscriptionId`). Pings every `StreamSettings.pingInterval`; a
/// connection lives `StreamSettings.connectionLifetime`.
enum StreamServer {
    static func shouldUpgrade(
        _ request: HTTPRequest,
        exchange: Exchange
    ) -> ShouldUpgradeResult<
        WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>
    > {
        let streams = exchange.streams
        let path = request.path ?? ""
        let (route, query) = path.split(separator: "?", maxSplits: 1).map(String.init).pair
        switch route {
        case "/private/ws", "/ws":
            let key = query.split(separator: "&").first { $0.hasPrefix("listenKey=") }.map { String($0.dropFirst("listenKey=".count)) }
            guard let key, let account = streams.account(listenKey: key) else { return .dontUpgrade }
            return .upgrade([:]) { inbound, outbound, _ in
                let (id, frames, output) = streams.open()
                streams.register(id, account: account, product: .futures, listenKey: key, output: output)
                await serve(id: id, frames: frames, output: output, inbound: inbound, outbound: outbound, streams: streams) { _ in }
            }
        case "/ws-api/v3":
            return .upgrade([:]) { inbound, outbound, _ in
                let (id, frames, output) = streams.open()
                await serve(id: id, frames: frames, output: output, inbound: inbound, outbound: outbound, streams: streams) { text in
                    output.yield(await answer(text, connection: id, output: output, exchange: exchange))
                }
            }
        default:
            return .dontUpgrade
        }
    }

    /// Writes the connection's frames until they end (dropped, expired, lifetime over) or the
    /// client goes away; hands each text message from the client to `request`.
    static func serve(
        id: Int,
        frames: AsyncStream<String>,
        output: AsyncStream<String>.Continuation,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        streams: UserStreams,
        request: @escaping @Sendable (String) async -> Void
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await text in frames {
                    do { try await outbound.write(.text(text)) } catch { break }
                }
            }
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: 64 * 1024) {
                        if case .text(let text) = message { await request(text) }
                    }
                } catch {}
                output.finish()
            }
            group.addTask {
                try? await Task.sleep(for: streams.connectionLifetime)
                output.finish()
            }
            await group.next()
            group.cancelAll()
        }
        streams.unregister(id)
        try? await outbound.close(.normalClosure, reason: nil)
    }

    /// One WebSocket API request's answer: `{"id", "status", "result" | "error"}`.
    static func answer(_ text: String, connection: Int, output: AsyncStream<String>.Continuation, exchange: Exchange) async -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return failure(id: .null, status: 400, .init(.badRequest, -1100, "Illegal characters found in a parameter."))
        }
        let id: JSON =
            if let s = object["id"] as? String { .string(s) } else if let n = object["id"] as? NSNumber { .int(n.int64Value) } else { .null }
        let params = object["params"] as? [String: Any] ?? [:]
        switch object["method"] as? String {
        case "userDataStream.subscribe.signature":
            let now = await exchange.now()
            var secrets: [String: String] = [:]
            if let key = params["apiKey"] as? String, let secret = await exchange.secret(forKey: key) { secrets[key] = secret }
            switch UserStreams.verifySubscription(params: params, secret: { secrets[$0] }, now: now) {
            case .failure(let error):
                return failure(id: id, status: Int(error.status.code), error)
            case .success(let apiKey):
                guard let account = await exchange.accountID(forKey: apiKey) else { return failure(id: id, status: 401, .invalidAPIKey) }
                let subscription = exchange.streams.register(connection, account: account, product: .spot, listenKey: nil, output: output)
                return JSON.object([("id", id), ("status", .int(200)), ("result", .object([("subscriptionId", .int(Int64(subscription)))]))]).text
            }
        case "userDataStream.unsubscribe":
            exchange.streams.unregister(connection)
            return JSON.object([("id", id), ("status", .int(200)), ("result", .object([]))]).text
        case "ping":
            return JSON.object([("id", id), ("status", .int(200)), ("result", .object([]))]).text
        default:
            return failure(id: id, status: 400, .init(.badRequest, -1000, "Unknown method."))
        }
    }

    static func failure(id: JSON, status: Int, _ error: APIError) -> String {
        JSON.object([
            ("id", id), ("status", .int(Int64(status))),
            ("error", .object([("code", .int(Int64(error.code))), ("msg", .string(error.msg))])),
        ]).text
    }
}

extension Array where Element == String {
    /// The first two elements, the second "" when absent.
    fileprivate var pair: (String, String) { (first ?? "", count > 1 ? self[1] : "") }
}
