import SyncCore

// Rows of the origin's tables that only scenarios (fixtures, the demo, benchmarks) write.

/// `users`.
public struct UserRecord: Sendable, Hashable {
    public var id: UserID
    public var username: String
    public var webhookToken: Secret?
    public var isActive: Bool

    public init(id: UserID, username: String, webhookToken: Secret?, isActive: Bool) {
        self.id = id
        self.username = username
        self.webhookToken = webhookToken
        self.isActive = isActive
    }
}

/// `strategies`.
public struct StrategyRecord: Sendable, Hashable {
    public var id: StrategyID
    public var user: UserID
    public var name: String
    public var groupName: String
    public var market: Market
    public var isActive: Bool
    public var isPublic: Bool

    public init(id: StrategyID, user: UserID, name: String, groupName: String, market: Market, isActive: Bool, isPublic: Bool) {
        self.id = id
        self.user = user
        self.name = name
        self.groupName = groupName
        self.market = market
        self.isActive = isActive
        self.isPublic = isPublic
    }
}

/// `strategy_accounts`.
public struct StrategyLinkRecord: Sendable, Hashable {
    public var id: StrategyLinkID
    public var strategy: StrategyID
    public var account: AccountID
    public var weight: Double
    public var leverage: Double
    public var isActive: Bool

    public init(id: StrategyLinkID, strategy: StrategyID, account: AccountID, weight: Double, leverage: Double, isActive: Bool) {
        self.id = id
        self.strategy = strategy
        self.account = account
        self.weight = weight
        self.leverage = leverage
        self.isActive = isActive
    }
}
