// What the operator is told (issue #17), decided from the reports passes and cancels already
// produce: pure rules with a little memory (streaks), no delivery. Delivery — sinks, retries,
// rate limits, the `sync_alerts` record — is the application's.

/// The kinds of alert, by their stable names (the JSON sink's `kind`, `sync_alerts.kind`).
public enum AlertKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// An open order no evidence attributes: registered as an orphan, never cancelled.
    case foreignOrphan = "foreign_orphan"
    /// A row the exchange no longer lists, still without a final status after N passes.
    case rowUnresolved = "row_unresolved"
    /// An account-market whose listing failed N passes in a row (nothing is decided for it).
    case listingFailing = "listing_failing"
    /// …and its first complete listing after that alert.
    case listingRecovered = "listing_recovered"
    /// Orders of a strategy-scoped cancel that were not cancelled, for a known reason.
    case cancelFailed = "cancel_failed"
    /// Orders of a cancel whose outcome is unknown (the answer was lost; a restart settles them).
    case cancelUnknown = "cancel_unknown"
    /// An orphan adopted on weaker evidence than a tag: a placeholder row or the origin's records.
    case adoptedByRecord = "adopted_by_record"
}

/// One alert. `key` identifies it: an alert with a key already delivered to a sink is not sent
/// to that sink again (the application keeps the keys in the database, across restarts).
public struct Alert: Sendable, Hashable, Codable {
    public var kind: AlertKind
    public var key: String
    public var accountID: AccountID?
    public var accountName: String?
    public var exchange: String?
    public var market: Market?
    public var strategyAccountID: StrategyLinkID?
    /// The strategy's `group_name`.
    public var strategy: String?
    public var symbol: String?
    /// The order (the first, for an alert about several: `orders` has them all).
    public var exchangeOrderID: String?
    public var orders: [String]
    /// The message for people (plain text; nothing secret is ever in a report).
    public var text: String
    /// When it was raised (the decision's clock), ms since the epoch.
    public var at: Millis

    enum CodingKeys: String, CodingKey {
        case kind, key, exchange, market, strategy, symbol, orders, text, at
        case accountID = "account_id"
        case accountName = "account_name"
        case strategyAccountID = "strategy_account_id"
        case exchangeOrderID = "exchange_order_id"
    }

    public init(kind: AlertKind, key: String, text: String, at: Millis) {
        self.kind = kind
        self.key = key
        self.text = text
        self.at = at
        orders = []
    }
}

/// The rules: which findings and outcomes raise an alert, with the streaks they need. A value
/// type: the caller keeps one and feeds it every report in order.
public struct AlertRules: Sendable {
    /// Passes in a row a row must be unresolved before it is alerted.
    public var unresolvedPasses: Int
    /// Passes in a row an account-market's listing must fail before it is alerted.
    public var failingPasses: Int

    struct MarketKey: Hashable {
        var account: AccountID
        var market: Market?
    }
    /// Consecutive unresolved passes per row, by account-market.
    var unresolved: [MarketKey: [OpenOrderRowID: Int]] = [:]
    /// Per failing account-market: when the failure began, passes since, whether alerted.
    var failing: [MarketKey: (since: Millis, passes: Int, alerted: Bool)] = [:]

    public init(unresolvedPasses: Int = 3, failingPasses: Int = 3) {
        self.unresolvedPasses = max(1, unresolvedPasses)
        self.failingPasses = max(1, failingPasses)
    }

    /// The alerts a pass raises. Orphans and adoptions raise one every pass they are reported
    /// (the key makes them once per order); streaks raise one when they reach their threshold.
    public mutating func observe(_ report: DriftReport) -> [Alert] {
        var alerts: [Alert] = []
        let at = report.finishedAt
        // An event's section names one order: it tells of that order's orphan or adoption, never
        // that a listing recovered or that a row it does not name is resolved.
        let eventScoped = report.trigger == DriftReport.streamTrigger
        for section in report.sections where section.coverage != "unsupported" {
            let place = MarketKey(account: section.accountID, market: section.market)
            let where_ = Self.place(section)
            if eventScoped {
                // Only its orphans and adoptions, below.
            } else if section.coverage == "complete" {
                if let episode = failing.removeValue(forKey: place), episode.alerted {
                    var alert = Alert(
                        kind: .listingRecovered,
                        key: "listing_recovered:\(place.account):\(place.market?.rawValue ?? "-"):\(episode.since)",
                        text: "ordersync: \(where_): listing complete again after \(episode.passes) failed pass(es); rows are reconciled again",
                        at: at
                    )
                    alert.fill(section)
                    alerts.append(alert)
                }
            } else {
                var episode = failing[place] ?? (since: at, passes: 0, alerted: false)
                episode.passes += 1
                if episode.passes >= failingPasses && !episode.alerted {
                    episode.alerted = true
                    var alert = Alert(
                        kind: .listingFailing,
                        key: "listing_failing:\(place.account):\(place.market?.rawValue ?? "-"):\(episode.since)",
                        text:
                            "ordersync: \(where_): listing \(section.coverage) \(episode.passes) passes in a row (\(section.error ?? "no detail")); "
                            + "its rows are neither closed nor adopted until it answers",
                        at: at
                    )
                    alert.fill(section)
                    alerts.append(alert)
                }
                failing[place] = episode
            }
            var streaks: [OpenOrderRowID: Int] = [:]
            let previous = unresolved[place] ?? [:]
            for finding in section.findings {
                switch finding.kind {
                case .foreignOrphan:
                    guard let id = finding.exchangeOrderID else { continue }
                    var alert = Alert(
                        kind: .foreignOrphan,
                        key: "foreign_orphan:\(place.account):\(place.market?.rawValue ?? "-"):\(id)",
                        text: "ordersync: \(where_): open order \(id) \(Self.order(finding)) has no row and no evidence of an owner; "
                            + "registered as an orphan and left alone (ordersync claim attributes it)",
                        at: at
                    )
                    alert.fill(section, finding)
                    alerts.append(alert)
                case .adopted:
                    guard let id = finding.exchangeOrderID, let evidence = finding.evidence,
                        evidence.hasPrefix("placeholder:") || evidence.hasPrefix("recorded:")
                    else { continue }
                    var alert = Alert(
                        kind: .adoptedByRecord,
                        key: "adopted:\(place.account):\(place.market?.rawValue ?? "-"):\(id)",
                        text: "ordersync: \(where_): open order \(id) \(Self.order(finding)) adopted for strategy \(finding.strategy ?? "?") "
                            + "(link \(finding.strategyAccountID.map { String($0.rawValue) } ?? "?")) on the evidence \(evidence)",
                        at: at
                    )
                    alert.fill(section, finding)
                    alerts.append(alert)
                case .unresolved:
                    guard !eventScoped, let row = finding.openOrderID else { continue }
                    let passes = (previous[row] ?? 0) + 1
                    streaks[row] = passes
                    if passes == unresolvedPasses {
                        var alert = Alert(
                            kind: .rowUnresolved,
                            key: "row_unresolved:\(row.rawValue)",
                            text: "ordersync: \(where_): row \(row.rawValue) of strategy \(finding.strategy ?? "?") "
                                + "(order \(finding.exchangeOrderID ?? "?") \(Self.order(finding))) is not listed and has no final status "
                                + "after \(passes) passes; it is kept: \(finding.detail)",
                            at: at
                        )
                        alert.fill(section, finding)
                        alerts.append(alert)
                    }
                default:
                    continue
                }
            }
            // A section that did not decide (a failed listing) says nothing about its rows: keep the streaks.
            if !eventScoped && (section.coverage == "complete" || !streaks.isEmpty) { unresolved[place] = streaks.isEmpty ? nil : streaks }
        }
        return alerts
    }

    /// The alerts a cancel raises: per account-market, its orders not cancelled — failed for a
    /// known reason, or with their outcome unknown — and an account that could not be reached.
    public static func alerts(_ report: CancelReport, at: Millis) -> [Alert] {
        guard report.executed else { return [] }
        var alerts: [Alert] = []
        for account in report.accounts {
            let where_ = "\(account.accountName) (account \(account.accountID), \(account.market.rawValue))"
            let failed = account.orders.filter { $0.outcome == .failed }
            for (kind, orders) in [
                (AlertKind.cancelUnknown, failed.filter(\.outcomeUnknown)), (AlertKind.cancelFailed, failed.filter { !$0.outcomeUnknown }),
            ] where !orders.isEmpty {
                var alert = Alert(
                    kind: kind,
                    key: "\(kind.rawValue):\(report.requestID):\(account.accountID):\(account.market.rawValue)",
                    text: "ordersync: cancel \(report.requestID) of strategy \(report.strategy) on \(where_): \(orders.count) order(s) "
                        + (kind == .cancelUnknown ? "with their outcome unknown (settled by query on restart): " : "not cancelled: ")
                        + orders.prefix(10).map { "\($0.exchangeOrderID) \($0.symbol) \($0.side.rawValue) — \($0.reason ?? "no reason")" }
                        .joined(separator: "; ") + (orders.count > 10 ? "; …" : ""),
                    at: at
                )
                alert.accountID = account.accountID
                alert.accountName = account.accountName
                alert.market = account.market
                alert.strategy = report.strategy
                alert.strategyAccountID = orders.first?.strategyAccountID
                alert.symbol = Set(orders.map(\.symbol)).count == 1 ? orders.first?.symbol : nil
                alert.exchangeOrderID = orders.first?.exchangeOrderID
                alert.orders = orders.map(\.exchangeOrderID)
                alerts.append(alert)
            }
            if let error = account.error {
                var alert = Alert(
                    kind: .cancelFailed,
                    key: "cancel_failed:\(report.requestID):\(account.accountID):\(account.market.rawValue):account",
                    text: "ordersync: cancel \(report.requestID) of strategy \(report.strategy) could not reach \(where_): \(error)",
                    at: at
                )
                alert.accountID = account.accountID
                alert.accountName = account.accountName
                alert.market = account.market
                alert.strategy = report.strategy
                alerts.append(alert)
            }
        }
        return alerts
    }

    static func place(_ section: ReportSection) -> String {
        "\(section.accountName) (account \(section.accountID), \(section.exchange)\(section.market.map { " " + $0.rawValue } ?? ""))"
    }

    static func order(_ f: ReportFinding) -> String {
        [f.symbol, f.side?.rawValue, f.orderType, f.quantity.map { "qty " + $0 }, f.price.map { "@ " + $0 }].compactMap { $0 }.joined(separator: " ")
    }
}

extension Alert {
    mutating func fill(_ section: ReportSection, _ finding: ReportFinding? = nil) {
        accountID = section.accountID
        accountName = section.accountName
        exchange = section.exchange
        market = section.market
        guard let finding else { return }
        strategyAccountID = finding.strategyAccountID
        strategy = finding.strategy
        symbol = finding.symbol
        exchangeOrderID = finding.exchangeOrderID
        orders = finding.exchangeOrderID.map { [$0] } ?? []
    }
}

extension CancelledOrder {
    /// A failure whose outcome is unknown: the exchange's answer was lost (a restart settles it).
    public var outcomeUnknown: Bool { outcome == .failed && (reason?.hasPrefix(OrderCancelOutcome.unknownOutcomePrefix) ?? false) }
}
