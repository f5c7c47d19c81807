import AsyncHTTPClient
import BinanceSimulator
import NIOCore
import OrderStore
import OrderSyncApp
import Scenarios
import SyncCore
import UpbitSimulator
import WebhookServer

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `ordersync demo`: the whole daemon on a bundled scenario with nothing to configure — the
/// Binance, Upbit and Bithumb simulators in-process on free ports, a temporary SQLite database
/// loaded from the scenario, the real webhook server on a free port. It runs a pass and prints the
/// drift report, sends a real HTTP CANCEL_ALL_ORDER for each public strategy, prints each order's
/// outcome, then what remains on the exchanges per strategy. Isolation held when every order of
/// those strategies is gone and every other order (other strategies', manual ones) is still open.
public enum Demo {
    public typealias Format = OutputFormat

    public struct Outcome: Sendable {
        public var output: String
        public var isolationHeld: Bool
    }

    public static func run(scenarioPath: String, databasePath: String, format: Format) async throws(AppError) -> Outcome {
        let scenario = try EntryPoints.readScenario(scenarioPath)
        let publics = scenario.strategies.filter(\.isPublic)
        var targets: [(strategy: StrategyRecord, token: String)] = []
        for strategy in publics.isEmpty ? Array(scenario.strategies.prefix(1)) : publics {
            guard let owner = scenario.users.first(where: { $0.id == strategy.user }), let token = owner.webhookToken else {
                throw AppError("\(scenarioPath): the demo needs its strategies' owners to have a webhook_token (\(strategy.groupName))")
            }
            targets.append((strategy, token.reveal()))
        }
        guard !targets.isEmpty else { throw AppError("\(scenarioPath): the demo needs a strategy") }
        let stack = try await LiveStack.start(scenarioPath: scenarioPath, scenario: scenario, databasePath: databasePath) { options, _ in
            options.config.reconcile.confirmations = 1  // one pass shows every finding
        }
        do {
            let outcome = try await script(stack: stack, scenario: scenario, targets: targets, format: format)
            await stack.stop()
            return outcome
        } catch {
            await stack.stop()
            throw (error as? AppError) ?? AppError("demo: \(error)")
        }
    }

    /// One order on any of the simulators, as the demo shows it.
    struct Resting: Hashable {
        var id: String
        var label: String
        var open: Bool
    }

    /// Every order the three simulators hold, and how many account-wide cancels they were sent.
    static func truth(_ stack: LiveStack) async -> (orders: [Resting], wideCancels: Int) {
        var orders = await stack.exchange.truth().map {
            Resting(id: $0.exchangeOrder.id.rawValue, label: "\($0.symbol) \($0.side.rawValue)", open: $0.status.isOpen)
        }
        for book in [stack.upbit, stack.bithumb] {
            orders += await book.truth().map {
                Resting(
                    id: $0.order.uuid,
                    label: "\($0.order.market) \($0.order.side == "bid" ? "BUY" : "SELL")",
                    open: ["wait", "watch"].contains($0.order.state)
                )
            }
        }
        let wide = await stack.exchange.wideCancelCalls.values.reduce(0, +) + stack.upbit.wideCancels + stack.bithumb.wideCancels
        return (orders, wide)
    }

    static func script(
        stack: LiveStack,
        scenario: Scenario,
        targets: [(strategy: StrategyRecord, token: String)],
        format: Format
    ) async throws -> Outcome {
        let db = stack.daemon.db
        let daemon = stack.daemon
        var out = "ordersync demo — scenario \(scenario.name): simulators (Binance, Upbit, Bithumb), SQLite and the webhook server on 127.0.0.1\n\n"
        let report = try await daemon.runner.pass(trigger: "demo")
        daemon.passed(report)
        out += report.text()

        // Who owns what, as the database says after the pass (adopted orders included).
        let links = Dictionary(uniqueKeysWithValues: try await db.strategyLinks().map { ($0.id, $0) })
        var owner: [String: String] = [:]
        for row in try await db.openOrders() { owner[row.exchangeOrderID.rawValue] = links[row.link]?.groupName ?? "?" }
        let before = await truth(stack).orders.filter(\.open)

        // A real HTTP CANCEL_ALL_ORDER per public strategy, the origin app's payload.
        var cancels: [CancelReport] = []
        for (strategy, token) in targets {
            let filters =
                strategy.market == .futures ? #""exchange": "BINANCE", "market_type": "FUTURES""# : #""market_type": "\#(strategy.market.rawValue)""#
            let payload = #"{"group_name": "\#(strategy.groupName)", \#(filters), "order_type": "CANCEL_ALL_ORDER", "token": "\#(token)"}"#
            var request = HTTPClientRequest(url: stack.webhookURL + "/api/webhook")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: payload))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 22)
            struct Reply: Decodable { var result: CancelReport }
            guard response.status == .ok, let reply = try? JSONDecoder().decode(Reply.self, from: Data(body.readableBytesView)) else {
                throw AppError("the webhook answered \(response.status.code): \(String(buffer: body))")
            }
            out +=
                "\nPOST /api/webhook {\"group_name\": \"\(strategy.groupName)\", \"order_type\": \"CANCEL_ALL_ORDER\", …} → \(response.status.code)\n"
            out += reply.result.text()
            cancels.append(reply.result)
        }

        // What remains on the exchanges, per strategy.
        let (after, wideCancels) = await truth(stack)
        let stillOpen = Set(after.filter(\.open).map(\.id))
        let cancelled = Set(targets.map(\.strategy.groupName))
        var remaining: [String: [String]] = [:]
        var held = wideCancels == 0
        for order in before {
            let group = owner[order.id] ?? "no row (manual or foreign)"
            let open = stillOpen.contains(order.id)
            if cancelled.contains(group) ? open : !open { held = false }
            if open { remaining[group, default: []].append("\(order.label) \(order.id)") }
        }
        out += "\nOpen on the exchanges after the cancels, by owner:\n"
        for group in remaining.keys.sorted() { out += "  \(group): \(remaining[group]!.joined(separator: ", "))\n" }
        for group in cancelled.sorted() where remaining[group] == nil { out += "  \(group): none\n" }
        let names = cancelled.sorted().joined(separator: " and ")
        out +=
            held
            ? "\nIsolation held: every \(names) order was cancelled by id, on every exchange; other strategies' and manual orders are intact; no account- or symbol-wide cancel was sent.\n"
            : "\nISOLATION VIOLATED: see the lists above.\n"
        if format == .json {
            struct JSONOut: Encodable {
                var drift_report: DriftReport
                var cancels: [CancelReport]
                var remaining: [String: [String]]
                var isolation_held: Bool
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(JSONOut(drift_report: report, cancels: cancels, remaining: remaining, isolation_held: held))
            return Outcome(output: String(decoding: data, as: UTF8.self) + "\n", isolationHeld: held)
        }
        return Outcome(output: out, isolationHeld: held)
    }
}
