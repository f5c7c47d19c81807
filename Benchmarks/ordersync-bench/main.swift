// ordersync-bench — release-mode benchmarks.
//
//   ordersync-bench decide [--accounts N] [--orders N] [--runs N]
//   ordersync-bench simulator --url URL --key K --secret S [--connections 50] [--requests 20000] [--runs 5]
//     (scripts/bench-simulator starts a release `ordersync simulate` and runs this against it)
//   ordersync-bench client cpu|cancels|transport --url URL [...]   (scripts/bench-client)
//   ordersync-bench reconcile scenario|passes [...]                  (scripts/bench-reconcile)
//   ordersync-bench fanout [--exchange binance|upbit] [--accounts 100] [--orders 20] [...]   (scripts/bench-fanout)
//   ordersync-bench upbit scenario|passes [...]                      (scripts/bench-upbit)
//   ordersync-bench alerts --binary PATH [--accounts 100] [...]      (scripts/bench-alerts)
//   ordersync-bench streams --binary PATH [--accounts 1000] [--events 10000] [...]   (scripts/bench-streams)
//
// decide: the pure reconciliation decision over A accounts × N orders each, with 2% of each
// kind of drift (partial fill, stale closed by query, stale first miss, adoptable orphan, foreign
// orphan, in flight). Inputs are built before timing; the clock covers only `Reconciler.decide`.
import Foundation
import SyncCore

struct Options {
    var accounts = 1_000
    var orders = 1_000
    var runs = 5
}

func parse() async -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    if args.first == "client" {
        await ClientBench.main(Array(args.dropFirst()))
        exit(0)
    }
    if args.first == "fanout" {
        await FanoutBench.main(Array(args.dropFirst()))
        exit(0)
    }
    if args.first == "streams" {
        await StreamsBench.main(Array(args.dropFirst()))
        exit(0)
    }
    if args.first == "alerts" {
        await AlertsBench.main(Array(args.dropFirst()))
        exit(0)
    }
    if args.first == "upbit" {
        await UpbitReconcileBench.main(Array(args.dropFirst()))
        exit(0)
    }
    if args.first == "reconcile" {
        await ReconcileBench.main(Array(args.dropFirst()))
        exit(0)
    }
    if args.first == "simulator" {
        await SimulatorBench.main(Array(args.dropFirst()))
        exit(0)
    }
    guard args.first == "decide" else {
        FileHandle.standardError.write(
            Data(
                "usage: ordersync-bench decide [--accounts N] [--orders N] [--runs N] | simulator --url URL --key K --secret S [--connections N] [--requests N] [--runs N]\n"
                    .utf8
            )
        )
        exit(2)
    }
    args = args.dropFirst()
    while let flag = args.popFirst() {
        guard let value = args.popFirst().flatMap(Int.init), value > 0 else {
            FileHandle.standardError.write(Data("ordersync-bench: \(flag) needs a positive integer\n".utf8))
            exit(2)
        }
        switch flag {
        case "--accounts": o.accounts = value
        case "--orders": o.orders = value
        case "--runs": o.runs = value
        default:
            FileHandle.standardError.write(Data("ordersync-bench: unknown option \(flag)\n".utf8))
            exit(2)
        }
    }
    return o
}

/// `--flag value` pairs as a dictionary; a flag without its value stops the benchmark.
func flagValues(_ arguments: ArraySlice<String>) -> [String: String] {
    var values: [String: String] = [:]
    var args = arguments
    while let flag = args.popFirst() {
        guard let value = args.popFirst() else { FanoutBench.fail("\(flag) needs a value") }
        values[flag] = value
    }
    return values
}

/// Peak resident set size (VmHWM) in MB.
func peakRSSMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return -1 }
    return kb / 1024
}

let options = await parse()
let now: Millis = 1_800_000_000_000
let codec = ClientOrderTagCodec.default
let policy = ReconcilePolicy()
let qty = Amount("0.010")!
let price = Amount("60000")!
let partial = Amount("0.004")!
let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]

func makeInput(account a: Int) -> ReconcileInput {
    let account = AccountID(Int64(a))
    let link = StrategyLinkID(Int64(a * 2))
    let other = StrategyLinkID(Int64(a * 2 + 1))
    let links = [
        StrategyLink(id: link, strategy: StrategyID(1), account: account, market: .futures, isActive: true),
        StrategyLink(id: other, strategy: StrategyID(2), account: account, market: .futures, isActive: true),
    ]
    var rows: [OpenOrderRow] = []
    var orders: [ExchangeOrder] = []
    var misses: [ExchangeOrderID: Int] = [:]
    var answers: [ExchangeOrderID: TargetedQueryResult] = [:]
    rows.reserveCapacity(options.orders)
    orders.reserveCapacity(options.orders)
    let base = Int64(a) * 10_000_000
    for i in 0..<options.orders {
        let id = ExchangeOrderID.regular(base + Int64(i))
        let owner = i % 2 == 0 ? link : other
        let order = ExchangeOrder(
            id: id,
            clientOrderID: "web\(i)",
            symbol: symbols[i % symbols.count],
            side: i % 3 == 0 ? .sell : .buy,
            type: .limit,
            status: .new,
            price: price,
            quantity: qty,
            executedQuantity: .zero,
            time: now - 600_000
        )
        let row = OpenOrderRow(
            id: OpenOrderRowID(base + Int64(i)),
            link: owner,
            exchangeOrderID: id,
            symbol: order.symbol,
            side: order.side,
            orderType: .limit,
            price: price,
            quantity: qty,
            filledQuantity: .zero,
            status: "OPEN",
            market: .futures,
            createdAt: now - 600_000,
            updatedAt: now - 600_000
        )
        switch i % 50 {
        case 0:  // partial fill: drifted
            var o = order
            o.status = .partiallyFilled
            o.executedQuantity = partial
            orders.append(o)
            rows.append(row)
        case 1:  // filled elsewhere, third miss, query answered: closed
            var o = order
            o.status = .filled
            o.executedQuantity = qty
            rows.append(row)
            misses[id] = 2
            answers[id] = .found(o)
        case 2:  // first miss: stale suspected
            rows.append(row)
        case 3:  // tagged order without a row: adopted
            var o = order
            o.clientOrderID = try! codec.encode(link: owner, nonce: "b\(i)")
            orders.append(o)
        case 4:  // manual order: foreign orphan
            orders.append(order)
        case 5:  // in flight: placed 1 s ago, no row yet
            var o = order
            o.time = now - 1_000
            orders.append(o)
        default:
            orders.append(order)
            rows.append(row)
        }
    }
    return ReconcileInput(
        account: account,
        market: .futures,
        listing: ExchangeListing(coverage: .complete, orders: orders),
        rows: rows,
        links: links,
        misses: misses,
        queryResults: answers,
        now: now
    )
}

let buildStart = ContinuousClock.now
let inputs = (0..<options.accounts).map { makeInput(account: $0 + 1) }
let total = inputs.reduce(0) { $0 + max($1.rows.count, $1.listing.orders.count) }
print("decide: \(options.accounts) accounts × \(options.orders) orders = \(total) orders; inputs built in \(ContinuousClock.now - buildStart)")

var times: [Double] = []
var counts = FindingCounts()
for run in 1...options.runs {
    let start = ContinuousClock.now
    var findings = FindingCounts()
    for input in inputs {
        let plan = Reconciler.decide(input, policy: policy)
        findings = findings + FindingCounts(plan.findings)
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    times.append(seconds)
    counts = findings
    print(String(format: "  run %d: %.3f s", run, seconds))
}
let sorted = times.sorted()
let median = sorted[sorted.count / 2]
print(
    String(
        format: "decide median %.3f s over %d runs (min %.3f, max %.3f); peak RSS %.0f MB",
        median,
        options.runs,
        sorted.first!,
        sorted.last!,
        peakRSSMB()
    )
)
print("findings per run: " + FindingKind.allCases.map { "\($0.rawValue) \(counts[$0])" }.joined(separator: ", "))
