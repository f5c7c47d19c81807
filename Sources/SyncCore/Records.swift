/// A secret (API secret, webhook token). Its text never appears in `description`, `dump`,
/// string interpolation or JSON: only `reveal()` gives it, at the one place that signs or compares.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String
    public init(_ value: String) { self.value = value }
    public func reveal() -> String { value }
    public var isEmpty: Bool { value.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

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

/// `accounts`.
public struct AccountRecord: Sendable, Hashable {
    public var id: AccountID
    public var user: UserID
    public var name: String
    /// `BINANCE`, … (upper case).
    public var exchange: String
    /// `public_api`.
    public var apiKey: String
    /// `secret_api`: plaintext or the origin app's Fernet ciphertext.
    public var apiSecret: Secret
    public var isTestnet: Bool
    public var isActive: Bool

    public init(id: AccountID, user: UserID, name: String, exchange: String, apiKey: String, apiSecret: Secret, isTestnet: Bool, isActive: Bool) {
        self.id = id
        self.user = user
        self.name = name
        self.exchange = exchange
        self.apiKey = apiKey
        self.apiSecret = apiSecret
        self.isTestnet = isTestnet
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
