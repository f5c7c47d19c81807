/// The evidence rules of a reconciliation pass (README § Invariants 2–3 and its finding table).
public struct ReconcilePolicy: Sendable {
    /// Orders and rows younger than this are in flight and left alone (ms). Default 10 s.
    public var grace: Millis
    /// Consecutive misses on complete listings after which a row is queried. Default 3.
    public var confirmations: Int
    /// Targeted order queries per account and market per pass. Default 10.
    public var maxQueriesPerPass: Int
    /// Who owns an order that has no row.
    public var attributor: Attributor

    public init(grace: Millis = 10_000, confirmations: Int = 3, maxQueriesPerPass: Int = 10, attributor: Attributor = Attributor()) {
        precondition(grace >= 0 && confirmations >= 1 && maxQueriesPerPass >= 0)
        self.grace = grace
        self.confirmations = confirmations
        self.maxQueriesPerPass = maxQueriesPerPass
        self.attributor = attributor
    }
}

/// Everything the decision for one account and market depends on.
public struct ReconcileInput: Sendable {
    public var account: AccountID
    public var market: Market
    /// The exchange side, with its coverage.
    public var listing: ExchangeListing
    /// `open_orders` rows of every strategy link on this account, in this market.
    public var rows: [OpenOrderRow]
    /// Every strategy link on this account (any market): who can own what.
    public var links: [StrategyLink]
    /// This account and market's entries of the orphan registry.
    public var orphans: [OrphanRecord]
    /// Consecutive misses recorded by earlier passes, by exchange order id.
    public var misses: [ExchangeOrderID: Int]
    /// Answers to the targeted queries the first decision asked for (empty the first time).
    public var queryResults: [ExchangeOrderID: TargetedQueryResult]
    /// The origin's records and placeholder rows the first decision asked for; nil: not read yet.
    public var evidence: OriginEvidence?
    public var now: Millis

    public init(
        account: AccountID,
        market: Market,
        listing: ExchangeListing,
        rows: [OpenOrderRow],
        links: [StrategyLink],
        orphans: [OrphanRecord] = [],
        misses: [ExchangeOrderID: Int] = [:],
        queryResults: [ExchangeOrderID: TargetedQueryResult] = [:],
        evidence: OriginEvidence? = nil,
        now: Millis
    ) {
        self.evidence = evidence
        self.account = account
        self.market = market
        self.listing = listing
        self.rows = rows
        self.links = links
        self.orphans = orphans
        self.misses = misses
        self.queryResults = queryResults
        self.now = now
    }
}

/// What reconciliation found about one order (README § Architecture, the finding table).
public enum FindingKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// On both sides, same state. No action.
    case matched
    /// On both sides, but status, filled quantity, price or quantity differ: the row is updated.
    case drifted
    /// A row the complete listing did not show: a miss is counted; after enough misses the
    /// order is queried.
    case staleSuspected = "stale_suspected"
    /// A targeted query gave a final status: the row is removed and kept in history.
    case closed
    /// A missed row whose query gave no final status (not found, or the query failed): kept,
    /// flagged, never closed without the exchange's word.
    case unresolved
    /// Listed, no row, and the evidence names its owner: a row is inserted for that link.
    case adopted = "orphan_adopted"
    /// Listed, no row, no evidence of an owner: registered in the orphan registry and reported;
    /// never cancelled, never assigned.
    case foreignOrphan = "orphan_foreign"
    /// A registered orphan the complete listing no longer shows: removed from the registry.
    case orphanGone = "orphan_gone"
    /// Younger than the grace period on either side: left alone this pass.
    case inFlight = "in_flight"
    /// The listing failed or was partial: nothing is decided for this account and market.
    case unknown
}

/// One field of a row that differs from the exchange.
public struct FieldChange: Sendable, Hashable, Codable {
    public var field: String
    public var from: String
    public var to: String
    public init(field: String, from: String, to: String) {
        self.field = field
        self.from = from
        self.to = to
    }
}

/// The exchange's values a drifted row is brought to.
public struct RowUpdate: Sendable, Hashable {
    /// The status to write; nil keeps the row's (a stale `CANCELLING` row's status is the origin's).
    public var status: OpenState?
    public var filledQuantity: Amount
    public var quantity: Amount
    public var price: Amount
    public var stopPrice: Amount?

    public init(order: ExchangeOrder, status: OpenState?) {
        self.status = status
        self.filledQuantity = order.executedQuantity
        self.quantity = order.quantity
        self.price = order.price
        self.stopPrice = order.stopPrice
    }
}

/// A change the shell makes to the database. There is deliberately no case that cancels an
/// order: the reconciler never cancels anything.
public enum PlanAction: Sendable, Hashable {
    /// Bring a row to the exchange's values, only if the row still has the `updatedAt` it was
    /// read with (so a concurrent write by the origin app wins and is re-examined next pass).
    case updateRow(OpenOrderRowID, readUpdatedAt: Millis, RowUpdate)
    /// Remove a row whose order the exchange reports final, recording it in history.
    case closeRow(OpenOrderRow, finalStatus: ExchangeOrderStatus, filledQuantity: Amount)
    /// Insert a row for an order attributed to a link.
    case adopt(Adoption)
    /// Give the origin's placeholder row its order's real id, status and fill.
    case repairPlaceholder(PlaceholderRepair)
    /// Store the number of consecutive complete listings that missed the row.
    case recordMiss(ExchangeOrderID, consecutive: Int)
    /// Forget the miss count (the order was seen, or its row is gone).
    case clearMisses(ExchangeOrderID)
    /// Add an order to the orphan registry.
    case registerOrphan(ExchangeOrder)
    /// Refresh a registered orphan's last-seen time and details (bookkeeping, not a change).
    case refreshOrphan(ExchangeOrder)
    /// Remove an order from the orphan registry.
    case forgetOrphan(ExchangeOrderID)

    /// Whether the action writes `open_orders`.
    public var changesOpenOrders: Bool {
        switch self {
        case .updateRow, .closeRow, .adopt, .repairPlaceholder: return true
        default: return false
        }
    }

    /// Whether the action only refreshes a report-keeping timestamp.
    public var isRefresh: Bool {
        if case .refreshOrphan = self { return true } else { return false }
    }
}

/// An order adopted into a link, spelled the way the link's rows are (the origin's forms).
public struct Adoption: Sendable, Hashable {
    public var link: StrategyLinkID
    public var order: ExchangeOrder
    /// The symbol as the row spells it (`BTC/USDT` when the link's rows use slashes).
    public var symbol: String
    /// `market_type` as the link's rows spell it (else the strategy's `SPOT`/`FUTURES`).
    public var marketText: String
    /// `order_type` in the origin's vocabulary (`ExchangeOrder.typeForOrigin`).
    public var orderType: OrderType
    /// What the adoption rests on.
    public var evidence: AttributionEvidence

    public init(
        link: StrategyLinkID,
        order: ExchangeOrder,
        symbol: String,
        marketText: String,
        orderType: OrderType,
        evidence: AttributionEvidence
    ) {
        self.evidence = evidence
        self.link = link
        self.order = order
        self.symbol = symbol
        self.marketText = marketText
        self.orderType = orderType
    }
}

/// One finding with the actions it implies.
public struct Finding: Sendable, Hashable {
    public var kind: FindingKind
    public var exchangeOrderID: ExchangeOrderID?
    public var clientOrderID: String?
    public var symbol: String?
    public var side: Side?
    /// The owning link: the row's, or the one an adoption names.
    public var link: StrategyLinkID?
    public var row: OpenOrderRowID?
    /// One line for people.
    public var detail: String
    /// Field differences (drifted findings).
    public var changes: [FieldChange]
    public var actions: [PlanAction]
    /// The order as the row or the exchange describes it (for the report).
    public var orderType: OrderType?
    public var price: Amount?
    public var quantity: Amount?
    public var filled: Amount?
    /// When the order (or its row) was created, ms.
    public var createdAt: Millis?

    public init(
        kind: FindingKind,
        exchangeOrderID: ExchangeOrderID? = nil,
        clientOrderID: String? = nil,
        symbol: String? = nil,
        side: Side? = nil,
        link: StrategyLinkID? = nil,
        row: OpenOrderRowID? = nil,
        detail: String,
        changes: [FieldChange] = [],
        actions: [PlanAction] = []
    ) {
        self.kind = kind
        self.exchangeOrderID = exchangeOrderID
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.side = side
        self.link = link
        self.row = row
        self.detail = detail
        self.changes = changes
        self.actions = actions
    }
}

extension Finding {
    /// What an adoption rests on (`AttributionEvidence.code`: `tag`, `recorded:trades#12`,
    /// `placeholder:41`, `claim`, …), from its action; nil for other findings. (Kept in the action,
    /// not the finding: a pass makes one finding per order, and their size is the decision's cost.)
    public var evidence: String? {
        for action in actions {
            switch action {
            case .adopt(let a): return a.evidence.code
            case .repairPlaceholder(let r): return AttributionEvidence.placeholder(r.row).code
            default: continue
            }
        }
        return nil
    }
}

/// An order the shell should query before deciding again.
public struct OrderQuery: Sendable, Hashable {
    public var id: ExchangeOrderID
    public var symbol: String
}

/// The decision for one account and market.
public struct ReconcilePlan: Sendable, Hashable {
    public var account: AccountID
    public var market: Market
    public var coverage: ListingCoverage
    /// Which symbols the listing covered.
    public var scope: ListingScope
    /// The input's `now`: when the decision was made.
    public var decidedAt: Millis
    /// Orders in the listing.
    public var listed: Int
    /// Rows considered.
    public var rows: Int
    public var findings: [Finding]
    /// Targeted queries to run; then decide again with their answers in `queryResults`.
    public var queries: [OrderQuery]
    /// The origin's evidence to read (orders without a row and no tag); then decide again with it
    /// in `evidence`. Nil when nothing is needed or it was supplied.
    public var evidenceRequest: EvidenceRequest?
    /// Actions no finding reports (miss counts of rows that no longer exist).
    public var housekeeping: [PlanAction]

    public init(
        account: AccountID,
        market: Market,
        coverage: ListingCoverage,
        scope: ListingScope,
        decidedAt: Millis,
        listed: Int,
        rows: Int,
        findings: [Finding],
        queries: [OrderQuery],
        housekeeping: [PlanAction]
    ) {
        self.account = account
        self.market = market
        self.coverage = coverage
        self.scope = scope
        self.decidedAt = decidedAt
        self.listed = listed
        self.rows = rows
        self.findings = findings
        self.queries = queries
        self.housekeeping = housekeeping
    }

    /// Every action, in order.
    public var actions: [PlanAction] { findings.flatMap(\.actions) + housekeeping }
    /// Whether the plan was decided on a complete listing of every symbol (a sweep).
    public var isCompleteSweep: Bool { coverage.isComplete && scope == .allSymbols }
    /// The actions that change state (everything but orphan refreshes).
    public var changes: [PlanAction] { actions.filter { !$0.isRefresh } }
}

/// The reconciliation decision: a pure function of its input and policy.
public enum Reconciler {
    /// Decides what to do for one account and market.
    ///
    /// Run it once; if the plan has `queries` or an `evidenceRequest`, run them, put the answers in
    /// `input.queryResults` and `input.evidence` and run it again: the second plan is the one to apply.
    public static func decide(_ input: ReconcileInput, policy: ReconcilePolicy) -> ReconcilePlan {
        let rows = input.rows.filter { $0.market == input.market }.sorted { $0.id < $1.id }
        var plan = ReconcilePlan(
            account: input.account,
            market: input.market,
            coverage: input.listing.coverage,
            scope: input.listing.scope,
            decidedAt: input.now,
            listed: input.listing.orders.count,
            rows: rows.count,
            findings: [],
            queries: [],
            housekeeping: []
        )

        // Absence is not evidence: without a complete listing nothing is decided.
        guard input.listing.coverage.isComplete else {
            plan.findings.append(
                Finding(
                    kind: .unknown,
                    detail: "listing \(input.listing.coverage.label): \(input.listing.coverage.reason ?? "")"
                )
            )
            return plan
        }

        let now = input.now
        let scope = input.listing.scope
        // Symbols compare by their key (`BTC/USDT` == `BTCUSDT`).
        let coveredKeys: Set<String>? = if case .symbols(let set) = scope { Set(set.map(SymbolKey.of)) } else { nil }
        // An order-scoped listing (events) covers only the orders it names: a row or registered
        // orphan of any other order is not judged, and no absence is evidence.
        let namesOrdersOnly = scope == .orders
        func covers(_ symbol: String) -> Bool { !namesOrdersOnly && (coveredKeys?.contains(SymbolKey.of(symbol)) ?? true) }
        let orders = input.listing.orders
        var index: [String: Int] = [:]
        index.reserveCapacity(orders.count)
        var byAlias: [String: Int] = [:]
        for (i, order) in orders.enumerated() {
            index[order.id.rawValue] = i
            for alias in order.aliases { byAlias[alias.rawValue] = i }
        }
        var consumed = [Bool](repeating: false, count: orders.count)
        var queryBudget = policy.maxQueriesPerPass - input.queryResults.count

        for row in rows {
            var position = index[row.exchangeOrderID.rawValue]
            // The origin may hold an order under one of its aliases (a conditional order under its
            // plain number); an alias matches only an order of the row's kind.
            if position == nil, let i = byAlias[row.exchangeOrderID.rawValue], orders[i].type.isConditional == row.orderType.isConditional {
                position = i
            }
            guard position != nil || covers(row.symbol) else { continue }
            let priorMisses = input.misses[row.exchangeOrderID] ?? 0
            // The origin's own states first: what it is placing, cancelling or holding is not raced.
            let lifecycle = row.lifecycle(now: now)
            switch lifecycle {
            case .finished, .unknownStatus:
                // Not a resting order by the row's word; if the exchange lists it, say so and leave the row.
                if let position {
                    consumed[position] = true
                    plan.findings.append(
                        finding(
                            .unresolved,
                            row: row,
                            detail:
                                "row status \(row.status) but the exchange lists the order \(orders[position].status); the origin's row is left as it is"
                        )
                    )
                }
                continue
            case .placeholder:
                if let position { consumed[position] = true }
                plan.findings.append(
                    finding(
                        .inFlight,
                        row: row,
                        detail: "PENDING placeholder \(now - row.createdAt) ms old: the origin is placing this order; never queried"
                    )
                )
                continue
            case .cancelling:
                if let position { consumed[position] = true }
                plan.findings.append(
                    finding(
                        .inFlight,
                        row: row,
                        detail: "CANCELLING: the origin's own cancel is in progress (rechecked by it after \(OriginRules.cancellingRecheck / 1000) s)"
                    )
                )
                continue
            case .live, .staleCancelling:
                break
            }
            if row.isHeld(now: now) {
                if let position { consumed[position] = true }
                let since = row.processingStartedAt.map { "\(now - $0) ms" } ?? "an unknown time"
                plan.findings.append(
                    finding(.inFlight, row: row, detail: "held by the origin's job (is_processing for \(since)); left alone this pass")
                )
                continue
            }
            if let position {
                consumed[position] = true
                plan.findings.append(
                    compare(
                        row,
                        with: orders[position],
                        priorMisses: priorMisses,
                        now: now,
                        policy: policy,
                        via: "listing",
                        keepsStatus: lifecycle == .staleCancelling
                    )
                )
                continue
            }
            // Not listed.
            if now - row.createdAt < policy.grace {
                plan.findings.append(finding(.inFlight, row: row, detail: "row created \(now - row.createdAt) ms ago, not listed yet"))
                continue
            }
            let misses = priorMisses + 1
            if let answer = input.queryResults[row.exchangeOrderID] {
                switch answer {
                case .found(let order) where !order.status.isOpen:
                    var f = finding(
                        .closed,
                        row: row,
                        detail: "exchange reports \(order.status), filled \(order.executedQuantity) of \(order.quantity)"
                    )
                    f.filled = order.executedQuantity
                    f.actions = [.closeRow(row, finalStatus: order.status, filledQuantity: order.executedQuantity)]
                    plan.findings.append(f)
                case .found(let order):
                    plan.findings.append(
                        compare(
                            row,
                            with: order,
                            priorMisses: priorMisses,
                            now: now,
                            policy: policy,
                            via: "query (missing from the listing)",
                            keepsStatus: lifecycle == .staleCancelling
                        )
                    )
                case .notFound:
                    var f = finding(
                        .unresolved,
                        row: row,
                        detail: "missed \(misses) time(s); the exchange does not know the order; kept until it gives a final status"
                    )
                    f.actions = [.recordMiss(row.exchangeOrderID, consecutive: misses)]
                    plan.findings.append(f)
                case .failed(let reason):
                    var f = finding(.unresolved, row: row, detail: "missed \(misses) time(s); order query failed: \(reason)")
                    f.actions = [.recordMiss(row.exchangeOrderID, consecutive: misses)]
                    plan.findings.append(f)
                }
                continue
            }
            var f = finding(.staleSuspected, row: row, detail: "missed by \(misses) complete listing(s) of \(policy.confirmations) before a query")
            f.actions = [.recordMiss(row.exchangeOrderID, consecutive: misses)]
            if misses >= policy.confirmations {
                if queryBudget > 0 {
                    queryBudget -= 1
                    plan.queries.append(OrderQuery(id: row.exchangeOrderID, symbol: row.symbol))
                    f.detail = "missed by \(misses) complete listing(s); querying the order"
                } else {
                    f.detail = "missed by \(misses) complete listing(s); query deferred (\(policy.maxQueriesPerPass) per pass)"
                }
            }
            plan.findings.append(f)
        }

        // Listed orders without a row.
        let linksByID = Dictionary(input.links.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var registered: [ExchangeOrderID: OrphanRecord] = [:]
        for record in input.orphans where record.market == input.market { registered[record.order.id] = record }
        var listedIDs = Set<ExchangeOrderID>()
        listedIDs.reserveCapacity(orders.count)
        let unmatched = orders.indices.filter { !consumed[$0] }.map { orders[$0] }.sorted { $0.id < $1.id }
        var forms: RowForms?  // built on the first adoption only
        for order in orders { listedIDs.insert(order.id) }
        let open = unmatched.filter(\.status.isOpen)
        // The origin's evidence for orders no tag settles and that are old enough to judge.
        let needing = open.filter { policy.attributor.taggedLink($0) == nil && (now - $0.time >= policy.grace || registered[$0.id] != nil) }
        var recordsByID: [String: [OriginRecord]] = [:]
        var placeholderVerdicts: [ExchangeOrderID: PlaceholderVerdict] = [:]
        func records(of order: ExchangeOrder) -> [OriginRecord] {
            order.ids.flatMap { recordsByID[$0.rawValue] ?? [] }
        }
        if let evidence = input.evidence {
            for record in evidence.records { recordsByID[record.exchangeOrderID, default: []].append(record) }
            if !evidence.placeholders.isEmpty {
                // A placeholder's candidates: every order without a row except those a tag or record adopts
                // (they have a row after this pass, so the next pass weighs the same candidates).
                let candidates = open.filter { order in
                    if case .owned? = policy.attributor.settled(
                        order,
                        account: input.account,
                        market: input.market,
                        links: linksByID,
                        records: records(of: order)
                    ) {
                        return false
                    }
                    return true
                }
                placeholderVerdicts = PlaceholderMatcher.verdicts(
                    orders: candidates,
                    placeholders: evidence.placeholders,
                    account: input.account,
                    market: input.market,
                    links: linksByID,
                    window: policy.attributor.placeholderWindow,
                    now: now
                )
            }
        } else if !needing.isEmpty {
            var ids = Set<String>()
            for order in needing {
                for id in order.ids { ids.insert(id.rawValue) }
            }
            let times = needing.map(\.time)
            plan.evidenceRequest = EvidenceRequest(
                account: input.account,
                market: input.market,
                orderIDs: ids.sorted(),
                placeholdersCreated: policy.attributor.placeholderWindow.rowsCreated(firstOrder: times.min()!, lastOrder: times.max()!)
            )
        }
        var repaired: [OpenOrderRowID] = []
        for order in open {
            let wasRegistered = registered[order.id] != nil
            let attribution = policy.attributor.attribute(
                order,
                account: input.account,
                market: input.market,
                links: linksByID,
                records: records(of: order),
                placeholder: placeholderVerdicts[order.id]
            )
            if now - order.time < policy.grace, !wasRegistered {
                let link: StrategyLinkID? = if case .owned(let link, _) = attribution { link } else { nil }
                plan.findings.append(
                    finding(.inFlight, order: order, link: link, detail: "placed \(now - order.time) ms ago; its row may still be on its way")
                )
                continue
            }
            switch attribution {
            case .owned(let link, let evidence):
                var f = finding(.adopted, order: order, link: link, detail: "adopted into strategy link \(link) by \(evidence)")
                if case .placeholder = evidence, case .unique(let row)? = placeholderVerdicts[order.id], let state = order.status.openState {
                    f.row = row.id
                    f.detail =
                        "placeholder row #\(row.id) (\(row.status), created \(order.time - row.createdAt) ms before the order) "
                        + "repaired with the order's id, status and fill; strategy link \(link)"
                    f.actions = [
                        .repairPlaceholder(
                            PlaceholderRepair(
                                row: row.id,
                                link: link,
                                placeholderID: row.exchangeOrderID,
                                readStatus: row.status,
                                order: order,
                                status: state
                            )
                        )
                    ]
                    repaired.append(row.id)
                } else {
                    if forms == nil { forms = RowForms(rows) }
                    f.actions = [.adopt(adoption(of: order, into: link, market: input.market, forms: forms!, evidence: evidence))]
                }
                if wasRegistered { f.actions.append(.forgetOrphan(order.id)) }
                plan.findings.append(f)
            case .awaiting(let why):
                var f = finding(.inFlight, order: order, detail: why)
                if wasRegistered { f.actions = [.refreshOrphan(order)] }
                plan.findings.append(f)
            case .unattributed(let conflict):
                let why = conflict.map { "; \($0)" } ?? ""
                if let record = registered[order.id] {
                    var f = finding(
                        .foreignOrphan,
                        order: order,
                        detail: "no owner evidence, seen \(record.timesSeen + 1) time(s) since \(UTC.iso8601(record.firstSeen))\(why)"
                    )
                    f.actions = [.refreshOrphan(order)]
                    plan.findings.append(f)
                } else {
                    var f = finding(.foreignOrphan, order: order, detail: "no owner evidence; registered\(why)")
                    f.actions = [.registerOrphan(order)]
                    plan.findings.append(f)
                }
            }
        }
        // A repaired PENDING row is no longer in flight: its repair is its finding.
        if !repaired.isEmpty {
            let ids = Set(repaired)
            plan.findings.removeAll {
                $0.kind == .inFlight && $0.exchangeOrderID?.rawValue.hasPrefix(OriginRules.placeholderPrefix) == true
                    && $0.row.map(ids.contains) == true
            }
        }

        // Registered orphans that are gone from a complete listing, or that it shows finished.
        let finished = Dictionary(unmatched.filter { !$0.status.isOpen }.map { ($0.id, $0.status) }, uniquingKeysWith: { a, _ in a })
        for record in registered.values.sorted(by: { $0.order.id < $1.order.id }) {
            let detail: String
            if let status = finished[record.order.id] {
                detail = "now \(status) (first seen \(UTC.iso8601(record.firstSeen)), seen \(record.timesSeen) time(s))"
            } else if !listedIDs.contains(record.order.id) && covers(record.order.symbol) {
                detail = "no longer listed (first seen \(UTC.iso8601(record.firstSeen)), seen \(record.timesSeen) time(s))"
            } else {
                continue
            }
            var f = finding(.orphanGone, order: record.order, detail: detail)
            f.actions = [.forgetOrphan(record.order.id)]
            plan.findings.append(f)
        }

        // Miss counts of rows that no longer exist.
        if !input.misses.isEmpty {
            let existing = Set(input.rows.map(\.exchangeOrderID))
            for id in input.misses.keys.sorted() where !existing.contains(id) {
                plan.housekeeping.append(.clearMisses(id))
            }
        }
        return plan
    }

    /// An adopted order spelled as the link's rows are (symbol, market type), with the origin's order type.
    public static func adoption(
        of order: ExchangeOrder,
        into link: StrategyLinkID,
        market: Market,
        rows: [OpenOrderRow],
        evidence: AttributionEvidence
    ) -> Adoption {
        adoption(of: order, into: link, market: market, forms: RowForms(rows), evidence: evidence)
    }

    static func adoption(
        of order: ExchangeOrder,
        into link: StrategyLinkID,
        market: Market,
        forms: RowForms,
        evidence: AttributionEvidence
    ) -> Adoption {
        let own = forms.byLink[link]
        return Adoption(
            link: link,
            order: order,
            symbol: SymbolKey.dbForm(of: order.symbol, linkSymbols: own?.symbols ?? forms.allSymbols),
            marketText: own?.marketText ?? market.rawValue,
            orderType: order.typeForOrigin,
            evidence: evidence
        )
    }

    /// How the rows of one market spell symbols and market types, per link (each spelling once).
    struct RowForms {
        var byLink: [StrategyLinkID: (symbols: [String], marketText: String)] = [:]
        var allSymbols: [String] = []
        init(_ rows: [OpenOrderRow]) {
            var seen = Set<String>()
            for row in rows {
                if byLink[row.link] == nil { byLink[row.link] = ([], row.marketText) }
                if !byLink[row.link]!.symbols.contains(row.symbol) { byLink[row.link]!.symbols.append(row.symbol) }
                if seen.insert(row.symbol).inserted { allSymbols.append(row.symbol) }
            }
        }
    }

    /// A row and the exchange's view of its order.
    private static func compare(
        _ row: OpenOrderRow,
        with order: ExchangeOrder,
        priorMisses: Int,
        now: Millis,
        policy: ReconcilePolicy,
        via source: String,
        keepsStatus: Bool
    ) -> Finding {
        let clear: [PlanAction] = priorMisses > 0 ? [.clearMisses(row.exchangeOrderID)] : []
        guard let state = order.status.openState else {
            // Listed with a final status (the listing raced a fill): the exchange's word is final.
            var f = finding(
                .closed,
                row: row,
                detail: "\(source) reports \(order.status), filled \(order.executedQuantity) of \(order.quantity)"
            )
            f.filled = order.executedQuantity
            f.actions = [.closeRow(row, finalStatus: order.status, filledQuantity: order.executedQuantity)]
            return f
        }
        let changes = differences(row, order, keepsStatus ? nil : state)
        if changes.isEmpty {
            var f = finding(.matched, row: row, detail: source == "listing" ? "" : "seen by \(source)")
            f.actions = clear
            return f
        }
        if now - row.updatedAt < policy.grace {
            var f = finding(.inFlight, row: row, detail: "differs from the exchange but was updated \(now - row.updatedAt) ms ago")
            f.changes = changes
            f.actions = clear
            return f
        }
        var f = finding(.drifted, row: row, detail: changes.map { "\($0.field) \($0.from) → \($0.to)" }.joined(separator: ", "))
        // The report shows the order as the exchange has it now (the row is brought to it).
        f.price = order.price
        f.quantity = order.quantity
        f.filled = order.executedQuantity
        f.changes = changes
        f.actions = [.updateRow(row.id, readUpdatedAt: row.updatedAt, RowUpdate(order: order, status: keepsStatus ? nil : state))] + clear
        return f
    }

    /// The fields in which a row differs from its order (amounts compared exactly); `state` nil: the
    /// status is not compared.
    public static func differences(_ row: OpenOrderRow, _ order: ExchangeOrder, _ state: OpenState?) -> [FieldChange] {
        var changes: [FieldChange] = []
        if let state, OpenState(storedStatus: row.status) != state {
            changes.append(FieldChange(field: "status", from: row.status, to: state.rawValue))
        }
        if row.filledQuantity != order.executedQuantity {
            changes.append(FieldChange(field: "filled_quantity", from: row.filledQuantity.description, to: order.executedQuantity.description))
        }
        if row.quantity != order.quantity {
            changes.append(FieldChange(field: "quantity", from: row.quantity.description, to: order.quantity.description))
        }
        if (row.price ?? .zero) != order.price {
            changes.append(FieldChange(field: "price", from: row.price?.description ?? "null", to: order.price.description))
        }
        if (row.stopPrice ?? .zero) != (order.stopPrice ?? .zero) {
            changes.append(FieldChange(field: "stop_price", from: row.stopPrice?.description ?? "null", to: order.stopPrice?.description ?? "null"))
        }
        return changes
    }

    private static func finding(_ kind: FindingKind, row: OpenOrderRow, detail: String) -> Finding {
        var f = Finding(
            kind: kind,
            exchangeOrderID: row.exchangeOrderID,
            symbol: row.symbol,
            side: row.side,
            link: row.link,
            row: row.id,
            detail: detail
        )
        f.orderType = row.orderType
        f.price = row.price
        f.quantity = row.quantity
        f.filled = row.filledQuantity
        f.createdAt = row.createdAt
        return f
    }

    private static func finding(_ kind: FindingKind, order: ExchangeOrder, link: StrategyLinkID? = nil, detail: String) -> Finding {
        var f = Finding(
            kind: kind,
            exchangeOrderID: order.id,
            clientOrderID: order.clientOrderID,
            symbol: order.symbol,
            side: order.side,
            link: link,
            detail: detail
        )
        f.orderType = order.type
        f.price = order.price
        f.quantity = order.quantity
        f.filled = order.executedQuantity
        f.createdAt = order.time
        return f
    }
}
