import AsyncHTTPClient
import BinanceSimulator
import NIOCore
import OrderStore
import OrderSyncApp
import Scenarios
import SyncCore
import WebhookServer

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `ordersync demo`: the whole daemon on a bundled scenario with nothing to configure — the
/// Binance simulator in-process on a free port, a temporary SQLite database loaded from the
/// scenario, the real webhook server on a free port. It runs a pass and prints the drift report,
/// sends a real HTTP CANCEL_ALL_ORDER for the public strategy, prints each order's outcome, then
/// what remains on the exchange per strategy. Isolation held when every order of the public
/// strategy is gone and every other order (other strategies', manual ones) is still open.
public enum Demo {
    public typealias Format = OutputFormat

    public struct Outcome: Sendable {
        public var output: String
        public var isolationHeld: Bool
    }

    public static func run(scenarioPath: String, databasePath: String, format: Format) async throws(AppError) -> Outcome {
        let scenario = try EntryPoints.readScenario(scenarioPath)
        guard let strategy = scenario.strategies.first(where: { $0.isPublic }) ?? scenario.strategies.first,
            let owner = scenario.users.first(where: { $0.id == strategy.user }), let token = owner.webhookToken
        else {
            throw AppError("\(scenarioPath): the demo needs a strategy whose owner has a webhook_token")
        }
        let stack = try await LiveStack.start(scenarioPath: scenarioPath, scenario: scenario, databasePath: databasePath) { options, _ in
            options.config.reconcile.confirmations = 1  // one pass shows every finding
        }
        do {
            let outcome = try await script(
                db: stack.daemon.db,
                daemon: stack.daemon,
                exchange: stack.exchange,
                scenario: scenario,
                strategy: strategy.groupName,
                token: token.reveal(),
                webhook: stack.webhookURL,
                format: format
            )
            await stack.stop()
            return outcome
        } catch {
            await stack.stop()
            throw (error as? AppError) ?? AppError("demo: \(error)")
        }
    }

    static func script(
        db: OrderDatabase,
        daemon: Daemon,
        exchange: Exchange,
        scenario: Scenario,
        strategy: String,
        token: String,
        webhook: String,
        format: Format
    ) async throws -> Outcome {
        var out = "ordersync demo — scenario \(scenario.name): simulator, SQLite and the webhook server on 127.0.0.1\n\n"
        let report = try await daemon.runner.pass(trigger: "demo")
        daemon.passed(report)
        out += report.text()

        // Who owns what, as the database says after the pass (adopted orders included).
        let links = Dictionary(uniqueKeysWithValues: try await db.strategyLinks().map { ($0.id, $0) })
        var owner: [String: String] = [:]
        for row in try await db.openOrders() { owner[row.exchangeOrderID.rawValue] = links[row.link]?.groupName ?? "?" }
        let before = await exchange.truth().filter { $0.status.isOpen }

        // A real HTTP CANCEL_ALL_ORDER, the origin app's payload.
        let payload =
            #"{"group_name": "\#(strategy)", "exchange": "BINANCE", "market_type": "FUTURES", "order_type": "CANCEL_ALL_ORDER", "token": "\#(token)"}"#
        var request = HTTPClientRequest(url: webhook + "/api/webhook")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: payload))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 22)
        struct Reply: Decodable { var result: CancelReport }
        guard response.status == .ok, let reply = try? JSONDecoder().decode(Reply.self, from: Data(body.readableBytesView)) else {
            throw AppError("the webhook answered \(response.status.code): \(String(buffer: body))")
        }
        out += "\nPOST /api/webhook {\"group_name\": \"\(strategy)\", \"order_type\": \"CANCEL_ALL_ORDER\", …} → \(response.status.code)\n"
        out += reply.result.text()

        // What remains on the exchange, per strategy.
        let after = await exchange.truth()
        let stillOpen = Set(after.filter { $0.status.isOpen }.map { $0.exchangeOrder.id.rawValue })
        var remaining: [String: [String]] = [:]
        var held = await exchange.wideCancelCalls.isEmpty
        for order in before {
            let id = order.exchangeOrder.id.rawValue
            let group = owner[id] ?? "no row (manual or foreign)"
            let open = stillOpen.contains(id)
            if group == strategy ? open : !open { held = false }
            if open { remaining[group, default: []].append("\(order.symbol) \(order.side.rawValue) \(id)") }
        }
        out += "\nOpen on the exchange after the cancel, by owner:\n"
        for group in remaining.keys.sorted() { out += "  \(group): \(remaining[group]!.joined(separator: ", "))\n" }
        if remaining[strategy] == nil { out += "  \(strategy): none\n" }
        out +=
            held
            ? "\nIsolation held: every \(strategy) order was cancelled by id; other strategies' and manual orders are intact; no account- or symbol-wide cancel was sent.\n"
            : "\nISOLATION VIOLATED: see the lists above.\n"
        if format == .json {
            struct JSONOut: Encodable {
                var drift_report: DriftReport
                var cancel: CancelReport
                var remaining: [String: [String]]
                var isolation_held: Bool
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(JSONOut(drift_report: report, cancel: reply.result, remaining: remaining, isolation_held: held))
            return Outcome(output: String(decoding: data, as: UTF8.self) + "\n", isolationHeld: held)
        }
        return Outcome(output: out, isolationHeld: held)
    }
}
