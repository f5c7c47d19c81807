import BinanceAPI
import BinanceSimulator
import Foundation
import SyncCore
import Testing

/// The client where the exchange is hostile: faults on 20% of requests, tight weight limits.
@Suite struct HostileTests {
    @Test func thousandOperationsUnderTwentyPercentFaultsNeverMisreportAnOrder() async throws {
        let seed = SeededGenerator.seed(fallback: 2026, environment: ProcessInfo.processInfo.environment)
        print("HostileTests: seed \(seed), 1000 operations, 20% of requests faulted")
        var simulator = SimulatorConfiguration(seed: seed)
        simulator.faults = .uniform(0.2)
        simulator.faults.latencyJitterMs = 2
        // About faults, not weight (the burst test below is about weight): a limit that never binds.
        simulator.limits = RateLimits(spotWeight: 10_000_000, futuresWeight: 10_000_000)
        try await Rig.with(accounts: 3, simulator: simulator) { rig in
            var rng = SeededGenerator(seed: seed)
            var known: [(account: Int, market: Market, id: ExchangeOrderID)] = []
            var tally: [String: Int] = [:]
            func place(_ account: Int, _ market: Market) async throws {
                let price = String(40000 + Int(rng.next() % 1000) * 10)
                if market == .futures, rng.next() % 5 == 0 {
                    let o = try await rig.exchange.placeAlgoByHand(
                        NewOrder(symbol: "BTCUSDT", side: .sell, type: "STOP_MARKET", quantity: Amount("0.002"), stopPrice: Amount(price)),
                        account: AccountID(Int64(account))
                    )
                    known.append((account, market, .algo(o.id)))
                } else {
                    known.append((account, market, try await rig.resting(account, market: market, price: price)))
                }
            }
            for account in 1...3 { for market in Market.allCases { for _ in 0..<8 { try await place(account, market) } } }

            for _ in 0..<1000 {
                let pick = known[Int(rng.next() % UInt64(known.count))]
                let client = rig.client(pick.account)
                switch rng.next() % 10 {
                case 0, 1:  // listing: complete listings equal the truth
                    let listing = await client.openOrders(pick.market)
                    tally["list \(listing.coverage.label)", default: 0] += 1
                    if listing.coverage == .complete {
                        let open = await rig.exchange.truth().filter {
                            $0.account == AccountID(Int64(pick.account)) && $0.product == Product(pick.market) && $0.status.isOpen
                        }
                        #expect(Set(listing.orders.map(\.id)) == Set(open.map(\.exchangeOrder.id)))
                    }
                case 2, 3:  // query: what it says is the truth
                    do {
                        let order = try await client.order(pick.market, symbol: "BTCUSDT", .id(pick.id))
                        let truth = await rig.truth(pick.id)
                        // An algo order's fill lives on the regular order its trigger placed (`actualOrderId`);
                        // the Algo service reports status only.
                        #expect(
                            order.status.venueText == truth?.status.rawValue && (pick.id.isAlgo || order.executedQuantity == truth?.executed),
                            "\(pick.id): client \(order.status) \(order.executedQuantity), truth \(String(describing: truth?.status)) \(String(describing: truth?.executed))"
                        )
                        tally["query ok", default: 0] += 1
                    } catch {
                        tally["query \((error as? BinanceError)?.label ?? "other")", default: 0] += 1
                    }
                case 4:  // the market acts in the meantime
                    let action: MarketAction = rng.next() % 2 == 0 ? .fill : .partialFill
                    _ = try? await rig.exchange.act(
                        action,
                        account: AccountID(Int64(pick.account)),
                        product: Product(pick.market),
                        id: Int64(pick.id.venueID)!,
                        algo: pick.id.isAlgo
                    )
                    try await place(pick.account, pick.market)
                default:  // cancel: a known final state, or a typed error — never a wrong one
                    let outcome = await client.cancel(pick.market, symbol: "BTCUSDT", pick.id)
                    let truth = await rig.truth(pick.id)
                    switch outcome {
                    case .cancelled(let o):
                        #expect(truth?.status == .canceled && o.status == .canceled, "reported cancelled, truth \(String(describing: truth?.status))")
                        tally["cancel cancelled", default: 0] += 1
                    case .alreadyFinal(let o):
                        #expect(
                            truth?.status.rawValue == o.status.venueText && !o.status.isOpen,
                            "reported \(o.status), truth \(String(describing: truth?.status))"
                        )
                        tally["cancel already final", default: 0] += 1
                    case .notFound:
                        #expect(truth == nil)
                        tally["cancel not found", default: 0] += 1
                    case .failed(let e):
                        #expect([.unknownOutcome, .transport, .rateLimited, .decoding].contains(e.kind), "\(e)")
                        tally["cancel failed \(e.label)", default: 0] += 1
                    }
                    if rng.next() % 2 == 0 { try await place(pick.account, pick.market) }
                }
            }
            print("HostileTests: \(tally.sorted { $0.key < $1.key })")
            let statuses = rig.transport.counts
            print("HostileTests: HTTP statuses \(statuses.sorted { $0.key < $1.key })")
            #expect(statuses.keys.contains { $0 >= 500 } && statuses[429, default: 0] > 0, "faults did happen")
            #expect(tally["cancel cancelled", default: 0] > 100 && tally["cancel already final", default: 0] > 10)
            #expect(await rig.exchange.wideCancelCalls.isEmpty)
        }
    }

    @Test func aBurstOfTwoThousandListingsMeetsNo429AndNo418() async throws {
        var simulator = SimulatorConfiguration()
        simulator.limits = RateLimits(spotWeight: 300, futuresWeight: 200, windowSeconds: 10, violationsBeforeBan: 1, banSeconds: 60)
        // Virtual time jumps a whole window while other requests are in flight: allow the
        // documented maximum recvWindow so a jump is not mistaken for a stale request.
        try await Rig.with(simulator: simulator, virtualTime: true, recvWindow: 60_000) { rig in
            let client = rig.client()
            let start = rig.time.now
            let complete = try await withThrowingTaskGroup(of: Int.self) { group in
                for lane in 0..<20 {
                    group.addTask {
                        var ok = 0
                        for i in stride(from: lane, to: 2000, by: 20) {
                            let listing = await client.openOrders(.futures, symbol: i % 2 == 0 ? "BTCUSDT" : "ETHUSDT")
                            if listing.coverage == .complete { ok += 1 }
                        }
                        return ok
                    }
                }
                return try await group.reduce(0, +)
            }
            let statuses = rig.transport.counts
            let elapsed = rig.time.now - start
            print(
                "Governor burst: \(complete) complete listings, statuses \(statuses.sorted { $0.key < $1.key }), \(elapsed / 1000) s of virtual time"
            )
            #expect(complete == 2000)
            #expect(statuses[429, default: 0] == 0 && statuses[418, default: 0] == 0)
            // Each futures listing costs 2 (regular + algo): 4,000 weight at 160 per 10 s is ≥ 24 windows.
            #expect(elapsed >= 240_000)
            let g = await rig.session.governor(.futures).snapshot
            #expect(g.limit == 200 && g.windowMs == 10_000)
        }
    }
}
