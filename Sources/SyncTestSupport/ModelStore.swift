import SyncCore

/// An in-memory stand-in for the database side, applying plans with the store's semantics
/// (conditional update, close into history, adopt unless a row exists, miss and orphan books).
public struct ModelStore: Sendable {
    public var rows: [ExchangeOrderID: OpenOrderRow] = [:]
    public var misses: [World.Key: [ExchangeOrderID: Int]] = [:]
    public var orphans: [World.Key: [ExchangeOrderID: OrphanRecord]] = [:]
    public var history: [(row: OpenOrderRow, status: ExchangeOrderStatus, filled: Amount)] = []
    /// The origin's `PENDING-…` rows (`PENDING`/`FAILED`), by row id: not in `rows`, as the store's
    /// snapshot leaves FAILED rows out; a repair moves one into `rows`.
    public var placeholders: [OpenOrderRowID: OpenOrderRow] = [:]
    /// The origin's records of order ids (`trades`, `failed_orders`, …). Never written by a plan.
    public var records: [OriginRecord] = []
    /// Evidence reads answered.
    public private(set) var evidenceReads = 0
    private var nextID: Int64 = 1_000_000

    public init(rows: [OpenOrderRow]) {
        for row in rows { self.rows[row.exchangeOrderID] = row }
    }

    public func input(_ world: World, _ key: World.Key, listing: ExchangeListing? = nil) -> ReconcileInput {
        ReconcileInput(
            account: key.account,
            market: key.market,
            listing: listing ?? world.listing(key),
            rows: rows.values.filter { r in r.market == key.market && world.links.contains { $0.id == r.link && $0.account == key.account } },
            // Every link of the world, not only this account's: the decision itself must refuse
            // evidence naming another account's link, whatever its caller passes.
            links: world.links,
            orphans: Array((orphans[key] ?? [:]).values),
            misses: misses[key] ?? [:],
            now: world.now
        )
    }

    /// The store's evidence read: records of the ids, placeholders of the account's links in the range.
    public func evidence(_ request: EvidenceRequest, links: [StrategyLink]) -> OriginEvidence {
        let ids = Set(request.orderIDs)
        let own = Set(links.filter { $0.account == request.account }.map(\.id))
        return OriginEvidence(
            records: records.filter { ids.contains($0.exchangeOrderID) },
            placeholders: placeholders.values.filter { own.contains($0.link) && request.placeholdersCreated.contains($0.createdAt) }
                .sorted { $0.id < $1.id },
            statements: 2
        )
    }

    public mutating func apply(_ plan: ReconcilePlan, now: Millis) {
        let key = World.Key(account: plan.account, market: plan.market)
        for action in plan.actions {
            switch action {
            case .updateRow(let id, let readUpdatedAt, let u):
                guard let (eid, row) = rows.first(where: { $0.value.id == id }), row.updatedAt == readUpdatedAt else { continue }
                var r = row
                if let status = u.status { r.status = status.rawValue }
                r.filledQuantity = u.filledQuantity
                r.quantity = u.quantity
                r.price = u.price
                r.stopPrice = u.stopPrice
                r.updatedAt = now
                rows[eid] = r
            case .closeRow(let row, let status, let filled):
                guard rows[row.exchangeOrderID]?.id == row.id else { continue }
                rows[row.exchangeOrderID] = nil
                misses[key]?[row.exchangeOrderID] = nil
                history.append((row, status, filled))
            case .adopt(let a):
                let o = a.order
                guard rows[o.id] == nil, let state = o.status.openState else { continue }
                nextID += 1
                rows[o.id] = OpenOrderRow(
                    id: OpenOrderRowID(nextID),
                    link: a.link,
                    exchangeOrderID: o.id,
                    symbol: a.symbol,
                    side: o.side,
                    orderType: a.orderType,
                    price: o.price,
                    stopPrice: o.stopPrice,
                    quantity: o.quantity,
                    filledQuantity: o.executedQuantity,
                    status: state.rawValue,
                    market: plan.market,
                    createdAt: o.time,
                    updatedAt: now,
                    marketText: a.marketText
                )
            case .repairPlaceholder(let r):
                // The store's conditional update: still the placeholder id and status read, no row with the real id.
                guard var row = placeholders[r.row], row.exchangeOrderID == r.placeholderID, row.status == r.readStatus,
                    rows[r.order.id] == nil
                else { continue }
                placeholders[r.row] = nil
                row.exchangeOrderID = r.order.id
                row.status = r.status.rawValue
                row.filledQuantity = r.order.executedQuantity
                row.updatedAt = now
                rows[r.order.id] = row
            case .recordMiss(let id, let count):
                misses[key, default: [:]][id] = count
            case .clearMisses(let id):
                misses[key]?[id] = nil
            case .registerOrphan(let o), .refreshOrphan(let o):
                let old = orphans[key]?[o.id]
                orphans[key, default: [:]][o.id] = OrphanRecord(
                    account: plan.account,
                    market: plan.market,
                    order: o,
                    firstSeen: old?.firstSeen ?? now,
                    lastSeen: now,
                    timesSeen: (old?.timesSeen ?? 0) + 1
                )
            case .forgetOrphan(let id):
                orphans[key]?[id] = nil
            }
        }
    }

    /// One pass as the runtime runs it: decide, run the asked-for queries against the world's
    /// truth, decide again with the answers, apply. Returns the applied plan.
    @discardableResult
    public mutating func pass(_ world: World, _ key: World.Key, policy: ReconcilePolicy, listing: ExchangeListing? = nil) -> ReconcilePlan {
        var input = self.input(world, key, listing: listing)
        var plan = Reconciler.decide(input, policy: policy)
        if let request = plan.evidenceRequest {
            input.evidence = evidence(request, links: world.links)
            evidenceReads += 1
        }
        for q in plan.queries { input.queryResults[q.id] = world.query(key, q.id) }
        if !plan.queries.isEmpty || plan.evidenceRequest != nil {
            plan = Reconciler.decide(input, policy: policy)
        }
        apply(plan, now: world.now)
        return plan
    }
}
