/// How one order's cancel ended, as the canceller sees it.
public enum OrderCancelOutcome: Sendable, Hashable {
    /// The exchange says CANCELED (by this request, or — after an unknown outcome — as a query showed).
    case cancelled(ExchangeOrder)
    /// The order was already final (filled, cancelled elsewhere, expired): the exchange's own answer.
    case alreadyFinal(ExchangeOrder)
    /// The exchange does not know the order: the row stays (absence is not evidence).
    case notFound
    /// Nothing is known for sure; `unknown` when the request may have reached the exchange.
    case failed(reason: String, unknown: Bool)

    /// The final order, when the exchange confirmed one: only then does the row leave `open_orders`.
    public var finalOrder: ExchangeOrder? {
        switch self {
        case .cancelled(let o), .alreadyFinal(let o): return o.status.isOpen ? nil : o
        default: return nil
        }
    }

    /// The order's result as the report gives it. An answer that still shows the order open
    /// (a cancel the exchange did not apply) is a failure.
    public var result: CancelResult {
        switch self {
        case .cancelled(let o): return o.status.isOpen ? .failed : .cancelled
        case .alreadyFinal(let o): return o.status.isOpen ? .failed : .alreadyClosed
        case .notFound, .failed: return .failed
        }
    }

    /// The cancel intent's state after this outcome.
    public var intentState: CancelIntentState {
        switch self {
        case .cancelled(let o): return o.status.isOpen ? .failed : .cancelled
        case .alreadyFinal(let o): return o.status.isOpen ? .failed : .closed
        case .notFound: return .failed
        case .failed(_, let unknown): return unknown ? .unknown : .failed
        }
    }

    /// How the reason of a cancel whose outcome is unknown begins.
    public static let unknownOutcomePrefix = "outcome unknown, to be resolved by query: "

    /// Why the order was not cancelled, for the report and the intent (nil when it was, or was final).
    public var reason: String? {
        switch self {
        case .notFound: return "the exchange does not know the order; the row is kept for the reconciler"
        case .failed(let r, let unknown): return unknown ? Self.unknownOutcomePrefix + r : r
        case .cancelled(let o) where o.status.isOpen, .alreadyFinal(let o) where o.status.isOpen:
            return "the exchange still reports \(o.status)"
        case .cancelled, .alreadyFinal: return nil
        }
    }
}

/// One order's result in a cancel report.
public enum CancelResult: String, Sendable, Hashable, Codable, CaseIterable {
    /// The exchange confirmed the cancel.
    case cancelled
    /// The order was already final on the exchange (its final status is in the report).
    case alreadyClosed = "already_closed"
    /// Not cancelled; the reason says why (the row stays).
    case failed
    /// A dry run: this order would be cancelled.
    case wouldCancel = "would_cancel"
}

/// The state of a cancel intent in `sync_cancel_intents`.
public enum CancelIntentState: String, Sendable, Hashable, CaseIterable {
    /// Recorded, not resolved yet (a restart sends it again).
    case pending
    /// The exchange confirmed the cancel.
    case cancelled
    /// The order was already final.
    case closed
    /// Not cancelled, for a known reason.
    case failed
    /// The exchange's answer was lost and a query could not settle it (a restart settles it).
    case unknown
}

/// One order in a cancel's result.
public struct CancelledOrder: Sendable, Hashable, Codable {
    public var openOrderID: OpenOrderRowID
    public var strategyAccountID: StrategyLinkID
    public var exchangeOrderID: String
    public var symbol: String
    public var side: Side
    public var outcome: CancelResult
    /// The exchange's final status when it gave one.
    public var finalStatus: String?
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case symbol, side, outcome, reason
        case openOrderID = "open_order_id"
        case strategyAccountID = "strategy_account_id"
        case exchangeOrderID = "exchange_order_id"
        case finalStatus = "final_status"
    }

    public init(row: OpenOrderRow, outcome: OrderCancelOutcome) {
        self.init(row: row, result: outcome.result, finalStatus: outcome.finalOrder?.status.phase.rawValue, reason: outcome.reason)
    }

    public init(row: OpenOrderRow, result: CancelResult, finalStatus: String? = nil, reason: String? = nil) {
        openOrderID = row.id
        strategyAccountID = row.link
        exchangeOrderID = row.exchangeOrderID.rawValue
        symbol = row.symbol
        side = row.side
        outcome = result
        self.finalStatus = finalStatus
        self.reason = reason
    }
}

/// One account and market of a cancel's result.
public struct AccountCancelResult: Sendable, Hashable, Codable {
    public var accountID: AccountID
    public var accountName: String
    public var market: Market
    public var orders: [CancelledOrder]
    /// Set when the account could not be reached at all (unsupported exchange, bad credentials).
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case market, orders, error
        case accountID = "account_id"
        case accountName = "account_name"
    }

    public init(accountID: AccountID, accountName: String, market: Market, orders: [CancelledOrder], error: String? = nil) {
        self.accountID = accountID
        self.accountName = accountName
        self.market = market
        self.orders = orders
        self.error = error
    }
}

/// The result of a strategy-scoped cancel: totals, then per account and order.
public struct CancelReport: Sendable, Hashable, Codable {
    public struct Totals: Sendable, Hashable, Codable {
        public var selected = 0
        public var cancelled = 0
        public var alreadyClosed = 0
        public var failed = 0
        enum CodingKeys: String, CodingKey {
            case selected, cancelled, failed
            case alreadyClosed = "already_closed"
        }
        public init() {}
    }

    public var requestID: String
    public var strategy: String
    /// Whether anything was sent (false: a dry run listing what would be cancelled).
    public var executed: Bool
    public var totals: Totals
    public var accounts: [AccountCancelResult]
    public var durationMs: Int64

    enum CodingKeys: String, CodingKey {
        case strategy, executed, totals, accounts
        case requestID = "request_id"
        case durationMs = "duration_ms"
    }

    public init(requestID: String, strategy: String, executed: Bool, accounts: [AccountCancelResult], durationMs: Int64) {
        self.requestID = requestID
        self.strategy = strategy
        self.executed = executed
        self.accounts = accounts.sorted { ($0.accountID, $0.market) < ($1.accountID, $1.market) }
        self.durationMs = durationMs
        var t = Totals()
        for order in accounts.flatMap(\.orders) {
            t.selected += 1
            switch order.outcome {
            case .cancelled: t.cancelled += 1
            case .alreadyClosed: t.alreadyClosed += 1
            case .failed: t.failed += 1
            case .wouldCancel: break
            }
        }
        totals = t
    }

    /// Lines for people: totals, then one line per order.
    public func text() -> String {
        var out = "\(executed ? "CANCEL_ALL_ORDER" : "Dry run: CANCEL_ALL_ORDER would cancel") \(strategy): \(totals.selected) order(s)"
        if executed { out += " — cancelled \(totals.cancelled), already closed \(totals.alreadyClosed), failed \(totals.failed), \(durationMs) ms" }
        out += "\n"
        for a in accounts {
            out += "  account \(a.accountID) \(a.accountName) \(a.market.rawValue)\(a.error.map { ": \($0)" } ?? "")\n"
            for o in a.orders {
                var line =
                    "    \(o.outcome.rawValue.padding(14)) \(o.symbol) \(o.side.rawValue) order \(o.exchangeOrderID) (row \(o.openOrderID), link \(o.strategyAccountID))"
                if let s = o.finalStatus { line += " → \(s)" }
                if let r = o.reason { line += ": \(r)" }
                out += line + "\n"
            }
        }
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// The database as the canceller uses it (OrderStore implements it).
public protocol CancelStore: Sendable {
    func strategyAccess(groupName: String) async throws -> StrategyAccess?
    func accounts() async throws -> [AccountRecord]
    /// `open_orders` rows of these links.
    func openOrders(links: Set<StrategyLinkID>) async throws -> [OpenOrderRow]
    /// Records a pending intent per row before anything is sent (one transaction).
    func recordCancelIntents(requestID: String, rows: [(row: OpenOrderRow, account: AccountID)], now: Millis) async throws
    /// Resolves intents and closes the rows whose orders the exchange confirmed final, in one
    /// transaction: each account's resolution is whole in it (the canceller hands over the accounts
    /// whose answers are in, together — a group commit — while it holds their locks).
    func resolveCancels(requestID: String, _ resolutions: [CancelResolution], now: Millis) async throws
    /// Intents in state pending or unknown, oldest first.
    func unresolvedCancels() async throws -> [PendingCancel]
    /// Marks intents whose row already left `open_orders` (closed by reconciliation or the origin app).
    func settleCancelsWithoutRows(requestID: String, openOrderIDs: [OpenOrderRowID], now: Millis) async throws
}

/// A cancel intent left unresolved (the process stopped between recording and resolving it, or
/// nobody could settle its outcome), with its row if that is still in `open_orders`.
public struct PendingCancel: Sendable, Hashable {
    public var requestID: String
    public var account: AccountID
    public var openOrderID: OpenOrderRowID
    public var row: OpenOrderRow?

    public init(requestID: String, account: AccountID, openOrderID: OpenOrderRowID, row: OpenOrderRow?) {
        self.requestID = requestID
        self.account = account
        self.openOrderID = openOrderID
        self.row = row
    }
}

/// One order's cancel outcome, on its account, to be written.
public struct CancelResolution: Sendable, Hashable {
    public var row: OpenOrderRow
    public var account: AccountID
    public var outcome: OrderCancelOutcome

    public init(row: OpenOrderRow, account: AccountID, outcome: OrderCancelOutcome) {
        self.row = row
        self.account = account
        self.outcome = outcome
    }
}

/// The exchange as the canceller uses it: requests that always name their orders.
public protocol CancelGateway: Sendable {
    func supports(_ account: AccountRecord) -> Bool
    /// What the account's venue allows in one cancel request, per market (batch size, …).
    func cancelLimits(_ account: AccountRecord, market: Market) -> CancelLimits
    /// Sends one planned request; one outcome per row of the request, in its order. Unknown
    /// outcomes are settled (by querying the order) before this returns.
    func send(_ request: CancelRequest, account: AccountRecord, market: Market) async -> [OrderCancelOutcome]
}
