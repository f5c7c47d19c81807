// SyncTestSupport — generators and an in-memory model for property tests and benchmarks.
// Deterministic: every random choice comes from a seeded generator (SyncCore.SeededGenerator).
import SyncCore

/// A random world for property tests: accounts, strategies sharing them (some public with
/// subscribers), the exchange's truth (every order ever, open or final) and the DB rows, with
/// what the generator *intended* for each order so tests need not trust the code under test.
public struct World: Sendable {
    public struct Key: Hashable, Sendable, Comparable {
        public var account: AccountID
        public var market: Market
        public init(account: AccountID, market: Market) {
            self.account = account
            self.market = market
        }
        public static func < (a: Key, b: Key) -> Bool { (a.account, a.market) < (b.account, b.market) }
    }

    public var now: Millis
    public var accounts: [AccountID]
    public var links: [StrategyLink]
    /// Every order ever placed, by account and market (open and final).
    public var truth: [Key: [ExchangeOrder]]
    public var rows: [OpenOrderRow]
    public var claims: [OperatorClaim]
    /// Orders with no evidence of an owner: must never be adopted.
    public var foreign: Set<ExchangeOrderID>
    /// Orders that carry evidence for a link on their account and market.
    public var attributable: [ExchangeOrderID: StrategyLinkID]

    public var keys: [Key] { truth.keys.sorted() }

    /// The exchange's open orders of one account and market.
    public func listing(_ key: Key) -> ExchangeListing {
        ExchangeListing(coverage: .complete, orders: (truth[key] ?? []).filter { $0.status.isOpen })
    }

    /// What a targeted query returns.
    public func query(_ key: Key, _ id: ExchangeOrderID) -> TargetedQueryResult {
        if let order = truth[key]?.first(where: { $0.id == id }) { return .found(order) }
        return .notFound
    }

    public func order(_ id: ExchangeOrderID) -> ExchangeOrder? {
        for orders in truth.values { if let o = orders.first(where: { $0.id == id }) { return o } }
        return nil
    }

    public static let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    public static let grace: Millis = 10_000

    /// A random world. `rowsForUnknownOrders` adds rows whose order the exchange never had.
    public static func random(using rng: inout SeededGenerator, rowsForUnknownOrders: Bool = false) -> World {
        let now: Millis = 1_800_000_000_000
        let accountCount = Int.random(in: 1...4, using: &rng)
        let accounts = (1...accountCount).map { AccountID(Int64($0)) }
        var links: [StrategyLink] = []
        var nextLink: Int64 = 1
        for s in 1...Int.random(in: 1...4, using: &rng) {
            let market: Market = Bool.random(using: &rng) ? .spot : .futures
            let isPublic = Int.random(in: 0..<3, using: &rng) == 0
            let chosen = isPublic ? accounts.filter { _ in Bool.random(using: &rng) } : [accounts.randomElement(using: &rng)!]
            for account in (chosen.isEmpty ? [accounts[0]] : chosen) {
                links.append(
                    StrategyLink(
                        id: StrategyLinkID(nextLink),
                        strategy: StrategyID(Int64(s)),
                        account: account,
                        market: market,
                        isActive: Int.random(in: 0..<10, using: &rng) > 0
                    )
                )
                nextLink += 1
            }
        }
        var world = World(now: now, accounts: accounts, links: links, truth: [:], rows: [], claims: [], foreign: [], attributable: [:])
        var nextOrder: Int64 = 1000
        var nextRow: Int64 = 1
        let codec = ClientOrderTagCodec.default
        func amount(_ text: String) -> Amount { Amount(text)! }
        let quantities = ["0.010", "0.5", "1", "2.25", "0.001"]
        let prices = ["100", "2500.5", "60000", "0.25"]

        func place(
            _ key: Key,
            link: StrategyLinkID?,
            client: String?,
            status: ExchangeOrderStatus,
            age: Millis,
            conditional: Bool,
            rng: inout SeededGenerator
        ) -> ExchangeOrder {
            nextOrder += 1
            let qty = amount(quantities.randomElement(using: &rng)!)
            let executed: Amount
            switch status {
            case .filled: executed = qty
            case .partiallyFilled: executed = amount("0.001") < qty ? amount("0.001") : .zero
            default: executed = .zero
            }
            let algo = conditional && key.market == .futures
            let order = ExchangeOrder(
                id: algo ? .namespaced("algo", nextOrder) : .regular(nextOrder),
                clientOrderID: client,
                symbol: symbols.randomElement(using: &rng)!,
                side: Bool.random(using: &rng) ? .buy : .sell,
                type: algo ? .stopMarket : .limit,
                status: status == .partiallyFilled && executed.isZero ? .new : status,
                price: algo ? .zero : amount(prices.randomElement(using: &rng)!),
                stopPrice: algo ? amount("59000") : nil,
                quantity: qty,
                executedQuantity: executed,
                time: now - age,
                aliases: algo ? [.regular(nextOrder)] : []
            )
            world.truth[key, default: []].append(order)
            return order
        }
        func row(for o: ExchangeOrder, link: StrategyLink, age: Millis, rng: inout SeededGenerator) -> OpenOrderRow {
            nextRow += 1
            return OpenOrderRow(
                id: OpenOrderRowID(nextRow),
                link: link.id,
                exchangeOrderID: o.id,
                symbol: o.symbol,
                side: o.side,
                orderType: o.type,
                price: o.price.isZero && Bool.random(using: &rng) ? nil : o.price,
                stopPrice: o.stopPrice,
                quantity: Amount(o.quantity.description + (o.quantity.description.contains(".") ? "0" : ""))!,
                filledQuantity: o.executedQuantity,
                status: o.status == .partiallyFilled ? "PARTIALLY_FILLED" : "OPEN",
                market: link.market,
                createdAt: now - age,
                updatedAt: now - age
            )
        }

        // A row for an order id the exchange has never had.
        func unlistedRow(link: StrategyLink, symbol: String, age: Millis) -> OpenOrderRow {
            nextOrder += 1
            nextRow += 1
            return OpenOrderRow(
                id: OpenOrderRowID(nextRow),
                link: link.id,
                exchangeOrderID: .regular(nextOrder),
                symbol: symbol,
                side: .buy,
                orderType: .limit,
                price: amount("1"),
                quantity: amount("1"),
                filledQuantity: .zero,
                status: "OPEN",
                market: link.market,
                createdAt: now - age,
                updatedAt: now - age
            )
        }

        for link in links {
            let key = Key(account: link.account, market: link.market)
            world.truth[key, default: []] = world.truth[key] ?? []
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                let tagged = Bool.random(using: &rng)
                let client = tagged ? try! codec.encode(link: link.id, nonce: "n\(nextOrder + 1)") : "web_\(nextOrder + 1)"
                let conditional = Int.random(in: 0..<5, using: &rng) == 0
                let old: Millis = Millis.random(in: (World.grace * 2)...3_600_000, using: &rng)
                switch Int.random(in: 0..<9, using: &rng) {
                case 0, 1:  // open, row agrees
                    let o = place(key, link: link.id, client: client, status: .new, age: old, conditional: conditional, rng: &rng)
                    world.rows.append(row(for: o, link: link, age: old, rng: &rng))
                case 2:  // partially filled since the row was written
                    let o = place(key, link: link.id, client: client, status: .partiallyFilled, age: old, conditional: conditional, rng: &rng)
                    var r = row(for: o, link: link, age: old, rng: &rng)
                    r.filledQuantity = .zero
                    r.status = "OPEN"
                    world.rows.append(r)
                case 3:  // final elsewhere; the row is stale
                    let final: ExchangeOrderStatus = [.filled, .canceled, .expired].randomElement(using: &rng)!
                    let o = place(key, link: link.id, client: client, status: final, age: old, conditional: conditional, rng: &rng)
                    world.rows.append(row(for: o, link: link, age: old, rng: &rng))
                case 4:  // open, no row; attributable only if tagged
                    let o = place(key, link: link.id, client: client, status: .new, age: old, conditional: conditional, rng: &rng)
                    if tagged { world.attributable[o.id] = link.id } else { world.foreign.insert(o.id) }
                case 5:  // in flight: a young order without a row
                    let young = Millis.random(in: 0..<World.grace, using: &rng)
                    let o = place(key, link: link.id, client: client, status: .new, age: young, conditional: conditional, rng: &rng)
                    if tagged { world.attributable[o.id] = link.id } else { world.foreign.insert(o.id) }
                case 6:  // in flight: a young row whose order is not listed yet
                    world.rows.append(unlistedRow(link: link, symbol: "BTCUSDT", age: Millis.random(in: 0..<World.grace, using: &rng)))
                case 7:  // a row whose order the exchange never had
                    guard rowsForUnknownOrders else { fallthrough }
                    world.rows.append(unlistedRow(link: link, symbol: "ETHUSDT", age: old))
                default:  // drift in a quantity that is only textually different: no drift
                    let o = place(key, link: link.id, client: client, status: .new, age: old, conditional: conditional, rng: &rng)
                    world.rows.append(row(for: o, link: link, age: old, rng: &rng))
                }
            }
        }
        // Manual orders (no tag), and tags naming a link on another account (a conflict).
        for account in accounts {
            for market in Market.allCases {
                let key = Key(account: account, market: market)
                for i in 0..<Int.random(in: 0...2, using: &rng) {
                    let o = place(
                        key,
                        link: nil,
                        client: Bool.random(using: &rng) ? "manual\(i)" : nil,
                        status: .new,
                        age: 600_000,
                        conditional: false,
                        rng: &rng
                    )
                    world.foreign.insert(o.id)
                }
                if let stranger = links.first(where: { $0.account != account }), Int.random(in: 0..<4, using: &rng) == 0 {
                    let o = place(
                        key,
                        link: nil,
                        client: try! codec.encode(link: stranger.id, nonce: "x\(nextOrder)"),
                        status: .new,
                        age: 600_000,
                        conditional: false,
                        rng: &rng
                    )
                    world.foreign.insert(o.id)
                }
            }
        }
        // Sometimes an operator claims an account and symbol for one link: manual orders there
        // become attributable, unless the claimant trades the other market (a conflict).
        if Int.random(in: 0..<3, using: &rng) == 0, let link = links.randomElement(using: &rng) {
            let symbol = symbols.randomElement(using: &rng)!
            world.claims.append(OperatorClaim(account: link.account, symbol: symbol, link: link.id))
            let key = Key(account: link.account, market: link.market)
            for o in world.truth[key] ?? [] where world.foreign.contains(o.id) && o.symbol == symbol {
                if let client = o.clientOrderID, codec.decode(client) != nil { continue }
                world.foreign.remove(o.id)
                world.attributable[o.id] = link.id
            }
        }
        return world
    }
}
