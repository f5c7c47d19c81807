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

/// `accounts`.
public struct AccountRecord: Sendable, Hashable {
    public var id: AccountID
    public var user: UserID
    public var name: String
    /// The venue's name as `accounts.exchange` holds it, upper case.
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
