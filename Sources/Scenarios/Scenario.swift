import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a scenario file was rejected: the file, the item (a JSON path such as
/// `db_orders[3].price`) and what is wrong with it.
public struct ScenarioError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var path: String
    public var message: String
    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }
    public var description: String { path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)" }
}

/// A scenario: both sides of a world (DB rows and exchange orders) in one JSON file.
/// The format is documented in `fixtures/README.md`.
public struct Scenario: Sendable {
    public var name: String
    public var description: String
    public var users: [UserRecord]
    public var accounts: [AccountRecord]
    public var strategies: [StrategyRecord]
    public var links: [StrategyLinkRecord]
    public var dbOrders: [DBOrder]
    public var exchangeOrders: [ExchangeSideOrder]
    /// How each account is stored in `accounts`, when the file says so (`exchange` as written, e.g.
    /// `binance`; `stored_public_api`/`stored_secret_api`, e.g. Fernet ciphertext). The simulator uses
    /// the plaintext `api_key`/`api_secret`.
    public var storage: [AccountID: StoredAccount] = [:]
    /// Rows of the origin's order-id records (`trades`, `trade_executions`, `order_fill_events`,
    /// `failed_orders`), written as its code writes them.
    public var originRecords: [OriginRecordRow] = []

    /// A record of the origin's naming an exchange order id for a strategy link.
    public struct OriginRecordRow: Sendable, Hashable {
        public var table: OriginRecord.Table
        public var link: StrategyLinkID
        public var account: AccountID
        public var exchangeOrderID: String
        public var symbol: String
        public var side: Side
        public var orderType: OrderType
        public var quantity: Amount
        public var price: Amount?
        public var market: Market
        /// `market_type` as written; nil: the market's name.
        public var marketText: String?
        public var ageMs: Millis
        /// `failed_orders.operation_type` (`CREATE` or `CANCEL`).
        public var operationType: String
    }

    /// An account's columns as the origin app wrote them.
    public struct StoredAccount: Sendable, Hashable {
        public var exchange: String
        public var publicAPI: String
        public var secretAPI: String
    }

    public init(
        name: String,
        description: String,
        users: [UserRecord],
        accounts: [AccountRecord],
        strategies: [StrategyRecord],
        links: [StrategyLinkRecord],
        dbOrders: [DBOrder],
        exchangeOrders: [ExchangeSideOrder]
    ) {
        self.name = name
        self.description = description
        self.users = users
        self.accounts = accounts
        self.strategies = strategies
        self.links = links
        self.dbOrders = dbOrders
        self.exchangeOrders = exchangeOrders
    }

    /// An `open_orders` row of the scenario; times are ages so a scenario never goes stale.
    public struct DBOrder: Sendable, Hashable {
        public var id: OpenOrderRowID?
        public var link: StrategyLinkID
        public var exchangeOrderID: ExchangeOrderID
        public var symbol: String
        public var side: Side
        public var orderType: OrderType
        public var price: Amount?
        public var stopPrice: Amount?
        public var quantity: Amount
        public var filledQuantity: Amount
        public var status: String
        public var market: Market
        public var ageMs: Millis
        /// `market_type` as written (the origin's single-order path writes `futures`/`spot`); nil: the market's name.
        public var marketText: String?
        /// `is_processing`, and how long ago `processing_started_at` was (nil: NULL).
        public var isProcessing = false
        public var processingAgeMs: Millis?
        /// How long ago `cancel_attempted_at` was (nil: NULL).
        public var cancelAgeMs: Millis?

        public init(
            id: OpenOrderRowID?,
            link: StrategyLinkID,
            exchangeOrderID: ExchangeOrderID,
            symbol: String,
            side: Side,
            orderType: OrderType,
            price: Amount?,
            stopPrice: Amount?,
            quantity: Amount,
            filledQuantity: Amount,
            status: String,
            market: Market,
            ageMs: Millis
        ) {
            self.id = id
            self.link = link
            self.exchangeOrderID = exchangeOrderID
            self.symbol = symbol
            self.side = side
            self.orderType = orderType
            self.price = price
            self.stopPrice = stopPrice
            self.quantity = quantity
            self.filledQuantity = filledQuantity
            self.status = status
            self.market = market
            self.ageMs = ageMs
        }
    }

    /// An order on the exchange side, for the simulator.
    public struct ExchangeSideOrder: Sendable, Hashable {
        public var account: AccountID
        public var market: Market
        public var order: ExchangeOrder
        public var ageMs: Millis
    }

    public static let defaultAgeMs: Millis = 3_600_000

    /// Parses and validates a scenario. `file` names the source in errors.
    public static func parse(_ data: Data, file: String) throws(ScenarioError) -> Scenario {
        let raw: RawScenario
        do {
            raw = try JSONDecoder().decode(RawScenario.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let ctx) = error, ctx.codingPath.isEmpty, let where_ = JSONSyntax.firstError(in: Array(data)) {
                throw ScenarioError(file: file, path: "", message: "malformed JSON at \(where_)")
            }
            throw Self.describe(error, file: file)
        } catch let error as ScenarioError {
            throw ScenarioError(file: file, path: error.path, message: error.message)
        } catch {
            throw ScenarioError(file: file, path: "", message: "\(error)")
        }
        return try Validator(file: file).validate(raw)
    }

    static func describe(_ error: DecodingError, file: String) -> ScenarioError {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for key in keys {
                if let i = key.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
            }
            return out
        }
        switch error {
        case .typeMismatch(let type, let ctx):
            return ScenarioError(file: file, path: path(ctx.codingPath), message: "expected \(typeName(type))")
        case .valueNotFound(let type, let ctx):
            return ScenarioError(file: file, path: path(ctx.codingPath), message: "expected \(typeName(type)), found null")
        case .keyNotFound(let key, let ctx):
            return ScenarioError(file: file, path: path(ctx.codingPath), message: "missing key \"\(key.stringValue)\"")
        case .dataCorrupted(let ctx):
            if let strict = ctx.underlyingError as? ScenarioError {
                return ScenarioError(file: file, path: path(ctx.codingPath), message: strict.message)
            }
            var message = ctx.debugDescription
            if let underlying = ctx.underlyingError { message += " (\(underlying))" }
            return ScenarioError(file: file, path: path(ctx.codingPath), message: ctx.codingPath.isEmpty ? "malformed JSON: \(message)" : message)
        @unknown default:
            return ScenarioError(file: file, path: "", message: "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int64.Type, is Int.Type: return "an integer"
        case is Bool.Type: return "true or false"
        case is Double.Type: return "a number"
        default: return "\(type)"
        }
    }
}

// MARK: - Wire format

/// Keys of an object that its type does not know are an error, not silently ignored: a typo such
/// as `qty` for `quantity` must not load a row with a default.
protocol StrictKeys: Decodable {
    associatedtype Keys: CodingKey & CaseIterable & RawRepresentable where Keys.RawValue == String
}

struct Strict<T: StrictKeys>: Decodable {
    let value: T
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        let known = Set(T.Keys.allCases.map(\.rawValue))
        if let unknown = container.allKeys.map(\.stringValue).filter({ !known.contains($0) }).sorted().first {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath + [AnyCodingKey(unknown)],
                    debugDescription: "unknown key; known keys: \(known.sorted().joined(separator: ", "))"
                )
            )
        }
        value = try T(from: decoder)
    }
}

struct RawScenario: Decodable {
    var name: String?
    var description: String?
    var users: [Strict<RawUser>]
    var accounts: [Strict<RawAccount>]
    var strategies: [Strict<RawStrategy>]
    var strategyAccounts: [Strict<RawLink>]
    var dbOrders: [Strict<RawDBOrder>]?
    var exchangeOrders: [Strict<RawExchangeOrder>]?
    var originRecords: [Strict<RawOriginRecord>]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, users, accounts, strategies
        case strategyAccounts = "strategy_accounts"
        case dbOrders = "db_orders"
        case exchangeOrders = "exchange_orders"
        case originRecords = "origin_records"
    }

    init(from decoder: any Decoder) throws {
        _ = try Strict<TopKeys>(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        // A scenario for the simulator alone needs only accounts and exchange orders.
        users = try c.decodeIfPresent([Strict<RawUser>].self, forKey: .users) ?? []
        accounts = try c.decode([Strict<RawAccount>].self, forKey: .accounts)
        strategies = try c.decodeIfPresent([Strict<RawStrategy>].self, forKey: .strategies) ?? []
        strategyAccounts = try c.decodeIfPresent([Strict<RawLink>].self, forKey: .strategyAccounts) ?? []
        dbOrders = try c.decodeIfPresent([Strict<RawDBOrder>].self, forKey: .dbOrders)
        exchangeOrders = try c.decodeIfPresent([Strict<RawExchangeOrder>].self, forKey: .exchangeOrders)
        originRecords = try c.decodeIfPresent([Strict<RawOriginRecord>].self, forKey: .originRecords)
    }

    struct TopKeys: StrictKeys {
        typealias Keys = CodingKeys
        init(from decoder: any Decoder) throws {}
    }
}

struct RawUser: StrictKeys {
    var id: Int64
    var username: String
    var webhookToken: String?
    var isActive: Bool?
    enum Keys: String, CodingKey, CaseIterable {
        case id, username
        case webhookToken = "webhook_token"
        case isActive = "is_active"
    }
    typealias CodingKeys = Keys
}

struct RawAccount: StrictKeys {
    var id: Int64
    var userId: Int64?
    var name: String?
    var exchange: String?
    var apiKey: String
    var apiSecret: String
    var isTestnet: Bool?
    var isActive: Bool?
    var storedPublicApi: String?
    var storedSecretApi: String?
    enum Keys: String, CodingKey, CaseIterable {
        case id, name, exchange
        case userId = "user_id"
        case apiKey = "api_key"
        case apiSecret = "api_secret"
        case storedPublicApi = "stored_public_api"
        case storedSecretApi = "stored_secret_api"
        case isTestnet = "is_testnet"
        case isActive = "is_active"
    }
    typealias CodingKeys = Keys
}

struct RawStrategy: StrictKeys {
    var id: Int64
    var userId: Int64
    var name: String
    var groupName: String
    var marketType: String
    var isActive: Bool?
    var isPublic: Bool?
    enum Keys: String, CodingKey, CaseIterable {
        case id, name
        case userId = "user_id"
        case groupName = "group_name"
        case marketType = "market_type"
        case isActive = "is_active"
        case isPublic = "is_public"
    }
    typealias CodingKeys = Keys
}

struct RawLink: StrictKeys {
    var id: Int64
    var strategyId: Int64
    var accountId: Int64
    var weight: Double?
    var leverage: Double?
    var isActive: Bool?
    enum Keys: String, CodingKey, CaseIterable {
        case id, weight, leverage
        case strategyId = "strategy_id"
        case accountId = "account_id"
        case isActive = "is_active"
    }
    typealias CodingKeys = Keys
}

/// An amount as written in the file: a JSON string (exact) or number; checked by the validator
/// so that the error names the item.
struct AmountText: Decodable {
    var text: String
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            text = s
        } else if let d = try? c.decode(Double.self) {
            text = d.description
        } else {
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a decimal string"))
        }
    }
}

struct RawDBOrder: StrictKeys {
    var id: Int64?
    var strategyAccountId: Int64
    var exchangeOrderId: String
    var symbol: String
    var side: String
    var orderType: String?
    var price: AmountText?
    var stopPrice: AmountText?
    var quantity: AmountText
    var filledQuantity: AmountText?
    var status: String?
    var marketType: String?
    var ageMs: Int64?
    var isProcessing: Bool?
    var processingAgeMs: Int64?
    var cancelAgeMs: Int64?
    enum Keys: String, CodingKey, CaseIterable {
        case id, symbol, side, price, quantity, status
        case strategyAccountId = "strategy_account_id"
        case exchangeOrderId = "exchange_order_id"
        case orderType = "order_type"
        case stopPrice = "stop_price"
        case filledQuantity = "filled_quantity"
        case marketType = "market_type"
        case ageMs = "age_ms"
        case isProcessing = "is_processing"
        case processingAgeMs = "processing_age_ms"
        case cancelAgeMs = "cancel_age_ms"
    }
    typealias CodingKeys = Keys
}

/// An exchange's order id as written: Binance's numbers, or another venue's text (Upbit's uuid).
enum RawOrderID: Decodable {
    case number(Int64)
    case text(String)
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) { self = .number(n) } else { self = .text(try c.decode(String.self)) }
    }
}

struct RawExchangeOrder: StrictKeys {
    var accountId: Int64
    var market: String
    var orderId: RawOrderID
    var algo: Bool?
    var clientOrderId: String?
    var symbol: String
    var side: String
    var type: String?
    var price: AmountText?
    var stopPrice: AmountText?
    var quantity: AmountText
    var executedQuantity: AmountText?
    var status: String?
    var ageMs: Int64?
    enum Keys: String, CodingKey, CaseIterable {
        case market, algo, symbol, side, type, price, quantity, status
        case accountId = "account_id"
        case orderId = "order_id"
        case clientOrderId = "client_order_id"
        case stopPrice = "stop_price"
        case executedQuantity = "executed_quantity"
        case ageMs = "age_ms"
    }
    typealias CodingKeys = Keys
}

struct RawOriginRecord: StrictKeys {
    var table: String
    var strategyAccountId: Int64
    var exchangeOrderId: String
    var symbol: String
    var side: String
    var orderType: String?
    var quantity: AmountText
    var price: AmountText?
    var marketType: String?
    var ageMs: Int64?
    var operationType: String?
    enum Keys: String, CodingKey, CaseIterable {
        case table, symbol, side, quantity, price
        case strategyAccountId = "strategy_account_id"
        case exchangeOrderId = "exchange_order_id"
        case orderType = "order_type"
        case marketType = "market_type"
        case ageMs = "age_ms"
        case operationType = "operation_type"
    }
    typealias CodingKeys = Keys
}

// MARK: - Validation

struct Validator {
    let file: String

    func fail(_ path: String, _ message: String) -> ScenarioError {
        ScenarioError(file: file, path: path, message: message)
    }

    func amount(_ text: AmountText?, _ path: String, allowNegative: Bool = false) throws(ScenarioError) -> Amount? {
        guard let text else { return nil }
        guard let value = Amount(text.text) else {
            throw fail(path, "\"\(text.text)\" is not a decimal amount")
        }
        guard allowNegative || !value.isNegative else { throw fail(path, "\"\(text.text)\" is negative") }
        return value
    }

    func age(_ value: Int64?, _ path: String) throws(ScenarioError) -> Millis {
        guard let value else { return Scenario.defaultAgeMs }
        guard value >= 0 else { throw fail(path, "age_ms must not be negative") }
        return value
    }

    /// Keys must be unique; nil keys (absent optional values) are skipped. Errors name the item's
    /// own index.
    func unique<K: Hashable>(_ keys: [K?], _ path: (Int) -> String, _ what: (K) -> String) throws(ScenarioError) {
        var seen: [K: Int] = [:]
        for (i, key) in keys.enumerated() {
            guard let key else { continue }
            if let first = seen[key] { throw fail(path(i), "duplicate \(what(key)) (first at [\(first)])") }
            seen[key] = i
        }
    }

    func validate(_ raw: RawScenario) throws(ScenarioError) -> Scenario {
        let users = raw.users.map(\.value)
        let accounts = raw.accounts.map(\.value)
        let strategies = raw.strategies.map(\.value)
        let links = raw.strategyAccounts.map(\.value)
        let dbOrders = (raw.dbOrders ?? []).map(\.value)
        let exchangeOrders = (raw.exchangeOrders ?? []).map(\.value)

        try unique(users.map(\.id), { "users[\($0)].id" }, { "id \($0)" })
        try unique(users.map(\.username), { "users[\($0)].username" }, { "username \"\($0)\"" })
        try unique(users.map(\.webhookToken), { "users[\($0)].webhook_token" }, { _ in "webhook_token" })
        try unique(accounts.map(\.id), { "accounts[\($0)].id" }, { "id \($0)" })
        try unique(strategies.map(\.id), { "strategies[\($0)].id" }, { "id \($0)" })
        try unique(strategies.map(\.groupName), { "strategies[\($0)].group_name" }, { "group_name \"\($0)\"" })
        try unique(links.map(\.id), { "strategy_accounts[\($0)].id" }, { "id \($0)" })
        try unique(links.map { [$0.strategyId, $0.accountId] }, { "strategy_accounts[\($0)]" }, { "link of strategy \($0[0]) to account \($0[1])" })

        let userIDs = Set(users.map(\.id))
        var outUsers: [UserRecord] = []
        for (i, u) in users.enumerated() {
            guard u.id > 0 else { throw fail("users[\(i)].id", "ids are positive") }
            if let token = u.webhookToken, token.isEmpty || token.utf8.count > 64 {
                throw fail("users[\(i)].webhook_token", "must be 1 to 64 characters")
            }
            outUsers.append(
                UserRecord(id: UserID(u.id), username: u.username, webhookToken: u.webhookToken.map(Secret.init), isActive: u.isActive ?? true)
            )
        }
        var outAccounts: [AccountRecord] = []
        var storage: [AccountID: Scenario.StoredAccount] = [:]
        for (i, a) in accounts.enumerated() {
            if a.exchange != nil || a.storedPublicApi != nil || a.storedSecretApi != nil {
                storage[AccountID(a.id)] = Scenario.StoredAccount(
                    exchange: a.exchange ?? "BINANCE",
                    publicAPI: a.storedPublicApi ?? a.apiKey,
                    secretAPI: a.storedSecretApi ?? a.apiSecret
                )
            }
            guard a.id > 0 else { throw fail("accounts[\(i)].id", "ids are positive") }
            // Without users the scenario is the simulator's alone: its accounts need no owner.
            if let user = a.userId {
                guard userIDs.contains(user) else { throw fail("accounts[\(i)].user_id", "no user with id \(user)") }
            } else if !users.isEmpty {
                throw fail("accounts[\(i)]", "missing key \"user_id\"")
            }
            guard !a.apiKey.isEmpty else { throw fail("accounts[\(i)].api_key", "must not be empty") }
            outAccounts.append(
                AccountRecord(
                    id: AccountID(a.id),
                    user: UserID(a.userId ?? 0),
                    name: a.name ?? "account \(a.id)",
                    exchange: (a.exchange ?? "BINANCE").uppercased(),
                    apiKey: a.apiKey,
                    apiSecret: Secret(a.apiSecret),
                    isTestnet: a.isTestnet ?? false,
                    isActive: a.isActive ?? true
                )
            )
        }
        var outStrategies: [StrategyRecord] = []
        for (i, s) in strategies.enumerated() {
            guard s.id > 0 else { throw fail("strategies[\(i)].id", "ids are positive") }
            guard userIDs.contains(s.userId) else { throw fail("strategies[\(i)].user_id", "no user with id \(s.userId)") }
            guard let market = Market(stored: s.marketType) else {
                throw fail("strategies[\(i)].market_type", "\"\(s.marketType)\" is not SPOT or FUTURES")
            }
            guard !s.groupName.isEmpty else { throw fail("strategies[\(i)].group_name", "must not be empty") }
            outStrategies.append(
                StrategyRecord(
                    id: StrategyID(s.id),
                    user: UserID(s.userId),
                    name: s.name,
                    groupName: s.groupName,
                    market: market,
                    isActive: s.isActive ?? true,
                    isPublic: s.isPublic ?? false
                )
            )
        }
        let strategyByID = Dictionary(uniqueKeysWithValues: outStrategies.map { ($0.id, $0) })
        let accountIDs = Set(outAccounts.map(\.id))
        let exchangeOf = Dictionary(outAccounts.map { ($0.id, $0.exchange) }, uniquingKeysWith: { a, _ in a })
        var outLinks: [StrategyLinkRecord] = []
        for (i, l) in links.enumerated() {
            guard l.id > 0 else { throw fail("strategy_accounts[\(i)].id", "ids are positive") }
            guard strategyByID[StrategyID(l.strategyId)] != nil else {
                throw fail("strategy_accounts[\(i)].strategy_id", "no strategy with id \(l.strategyId)")
            }
            guard accountIDs.contains(AccountID(l.accountId)) else {
                throw fail("strategy_accounts[\(i)].account_id", "no account with id \(l.accountId)")
            }
            outLinks.append(
                StrategyLinkRecord(
                    id: StrategyLinkID(l.id),
                    strategy: StrategyID(l.strategyId),
                    account: AccountID(l.accountId),
                    weight: l.weight ?? 1,
                    leverage: l.leverage ?? 1,
                    isActive: l.isActive ?? true
                )
            )
        }
        let linkMarket = Dictionary(uniqueKeysWithValues: outLinks.map { ($0.id, strategyByID[$0.strategy]!.market) })

        try unique(dbOrders.map(\.exchangeOrderId), { "db_orders[\($0)].exchange_order_id" }, { "exchange_order_id \"\($0)\"" })
        try unique(dbOrders.map(\.id), { "db_orders[\($0)].id" }, { "id \($0)" })
        var outRows: [Scenario.DBOrder] = []
        for (i, o) in dbOrders.enumerated() {
            let p = "db_orders[\(i)]"
            if let id = o.id, id <= 0 { throw fail("\(p).id", "ids are positive") }
            guard let market = linkMarket[StrategyLinkID(o.strategyAccountId)] else {
                throw fail("\(p).strategy_account_id", "no strategy_accounts row with id \(o.strategyAccountId)")
            }
            guard !o.exchangeOrderId.isEmpty, o.exchangeOrderId.utf8.count <= 100 else {
                throw fail("\(p).exchange_order_id", "must be 1 to 100 characters")
            }
            guard let side = Side(parsing: o.side) else { throw fail("\(p).side", "\"\(o.side)\" is not BUY or SELL") }
            if let text = o.marketType {
                guard let m = Market(stored: text) else { throw fail("\(p).market_type", "\"\(text)\" is not SPOT or FUTURES (any case)") }
                guard m == market else {
                    throw fail("\(p).market_type", "\(m.rawValue) row in a \(market.rawValue) strategy's link \(o.strategyAccountId)")
                }
            }
            guard !o.symbol.isEmpty else { throw fail("\(p).symbol", "must not be empty") }
            let quantity = try amount(o.quantity, "\(p).quantity")!
            let filled = try amount(o.filledQuantity, "\(p).filled_quantity") ?? .zero
            guard filled <= quantity else { throw fail("\(p).filled_quantity", "\(filled) exceeds quantity \(quantity)") }
            var row = Scenario.DBOrder(
                id: o.id.map(OpenOrderRowID.init),
                link: StrategyLinkID(o.strategyAccountId),
                exchangeOrderID: ExchangeOrderID(o.exchangeOrderId),
                symbol: o.symbol.uppercased(),
                side: side,
                orderType: OrderType(o.orderType ?? "LIMIT"),
                price: try amount(o.price, "\(p).price"),
                stopPrice: try amount(o.stopPrice, "\(p).stop_price"),
                quantity: quantity,
                filledQuantity: filled,
                status: (o.status ?? "OPEN").uppercased(),
                market: market,
                ageMs: try age(o.ageMs, "\(p).age_ms")
            )
            row.marketText = o.marketType
            row.isProcessing = o.isProcessing ?? false
            if let a = o.processingAgeMs { row.processingAgeMs = try age(a, "\(p).processing_age_ms") }
            if let a = o.cancelAgeMs { row.cancelAgeMs = try age(a, "\(p).cancel_age_ms") }
            outRows.append(row)
        }

        var outExchange: [Scenario.ExchangeSideOrder] = []
        var orderIDs: [String: Int] = [:]
        var openClientIDs: [String: Int] = [:]
        for (i, o) in exchangeOrders.enumerated() {
            let p = "exchange_orders[\(i)]"
            guard accountIDs.contains(AccountID(o.accountId)) else { throw fail("\(p).account_id", "no account with id \(o.accountId)") }
            guard let market = Market(stored: o.market) else { throw fail("\(p).market", "\"\(o.market)\" is not SPOT or FUTURES") }
            let algo = o.algo ?? false
            let id: ExchangeOrderID
            var aliases: [ExchangeOrderID] = []
            switch (o.orderId, exchangeOf[AccountID(o.accountId)] == "BINANCE") {
            case (.number(let n), true):
                guard n > 0 else { throw fail("\(p).order_id", "order ids are positive") }
                if algo && market != .futures { throw fail("\(p).algo", "algo orders exist on FUTURES only") }
                // Binance's futures Algo service: ids of their own, also known by the plain number.
                id = algo ? ExchangeOrderID.namespaced("algo", n) : ExchangeOrderID.regular(n)
                if algo { aliases = [.regular(n)] }
            case (.text(let text), false):
                guard !text.isEmpty, text.utf8.count <= 100 else { throw fail("\(p).order_id", "must be 1 to 100 characters") }
                guard !algo else { throw fail("\(p).algo", "algo orders exist on Binance futures only") }
                guard market == .spot else { throw fail("\(p).market", "\(exchangeOf[AccountID(o.accountId)] ?? "") trades SPOT only") }
                id = ExchangeOrderID(text)
            case (.number, false):
                throw fail("\(p).order_id", "\(exchangeOf[AccountID(o.accountId)] ?? "") order ids are text (a uuid)")
            case (.text, true):
                throw fail("\(p).order_id", "Binance order ids are positive integers")
            }
            let idKey = "\(market.rawValue) \(id.rawValue)"
            if let first = orderIDs[idKey] { throw fail("\(p).order_id", "duplicate \(market.rawValue) order id \(id) (first at [\(first)])") }
            orderIDs[idKey] = i
            guard let side = Side(parsing: o.side) else { throw fail("\(p).side", "\"\(o.side)\" is not BUY or SELL") }
            let statusText = (o.status ?? "NEW").uppercased()
            guard let phase = ExchangeOrderStatus.Phase(rawValue: statusText) else {
                let names = ExchangeOrderStatus.Phase.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail("\(p).status", "\"\(statusText)\" is not an order status (\(names))")
            }
            let status = ExchangeOrderStatus(phase)
            if let client = o.clientOrderId {
                let allowed = market == .spot ? "-_" : "-_.:/"
                guard (1...36).contains(client.utf8.count),
                    client.unicodeScalars.allSatisfy({
                        ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || allowed.unicodeScalars.contains($0)
                    })
                else { throw fail("\(p).client_order_id", "\"\(client)\" is not a valid \(market.rawValue) client order id") }
                if status.isOpen {
                    let key = "\(o.accountId) \(market.rawValue) \(client)"
                    if let first = openClientIDs[key] {
                        throw fail("\(p).client_order_id", "duplicate client order id \"\(client)\" among open orders (first at [\(first)])")
                    }
                    openClientIDs[key] = i
                }
            }
            let quantity = try amount(o.quantity, "\(p).quantity")!
            let executed = try amount(o.executedQuantity, "\(p).executed_quantity") ?? .zero
            guard executed <= quantity else { throw fail("\(p).executed_quantity", "\(executed) exceeds quantity \(quantity)") }
            let ageMs = try age(o.ageMs, "\(p).age_ms")
            outExchange.append(
                Scenario.ExchangeSideOrder(
                    account: AccountID(o.accountId),
                    market: market,
                    order: ExchangeOrder(
                        id: id,
                        clientOrderID: o.clientOrderId,
                        symbol: SymbolKey.of(o.symbol),
                        side: side,
                        type: OrderType(o.type ?? "LIMIT"),
                        status: status,
                        price: try amount(o.price, "\(p).price") ?? .zero,
                        stopPrice: try amount(o.stopPrice, "\(p).stop_price"),
                        quantity: quantity,
                        executedQuantity: executed,
                        time: -ageMs,
                        aliases: aliases
                    ),
                    ageMs: ageMs
                )
            )
        }
        let linkAccount = Dictionary(uniqueKeysWithValues: outLinks.map { ($0.id, $0.account) })
        var outRecords: [Scenario.OriginRecordRow] = []
        for (i, r) in (raw.originRecords ?? []).map(\.value).enumerated() {
            let p = "origin_records[\(i)]"
            guard let table = OriginRecord.Table(rawValue: r.table) else {
                throw fail("\(p).table", "\"\(r.table)\" is not one of \(OriginRecord.Table.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let link = StrategyLinkID(r.strategyAccountId)
            guard let market = linkMarket[link], let account = linkAccount[link] else {
                throw fail("\(p).strategy_account_id", "no strategy_accounts row with id \(r.strategyAccountId)")
            }
            guard !r.exchangeOrderId.isEmpty, r.exchangeOrderId.utf8.count <= 100 else {
                throw fail("\(p).exchange_order_id", "must be 1 to 100 characters")
            }
            guard let side = Side(parsing: r.side) else { throw fail("\(p).side", "\"\(r.side)\" is not BUY or SELL") }
            guard !r.symbol.isEmpty else { throw fail("\(p).symbol", "must not be empty") }
            if let text = r.marketType, Market(stored: text) == nil {
                throw fail("\(p).market_type", "\"\(text)\" is not SPOT or FUTURES (any case)")
            }
            let operation = (r.operationType ?? "CANCEL").uppercased()
            guard operation == "CREATE" || operation == "CANCEL" else { throw fail("\(p).operation_type", "CREATE or CANCEL") }
            if r.operationType != nil && table != .failedOrders { throw fail("\(p).operation_type", "only failed_orders records have one") }
            outRecords.append(
                Scenario.OriginRecordRow(
                    table: table,
                    link: link,
                    account: account,
                    exchangeOrderID: r.exchangeOrderId,
                    symbol: r.symbol.uppercased(),
                    side: side,
                    orderType: OrderType(r.orderType ?? "LIMIT"),
                    quantity: try amount(r.quantity, "\(p).quantity")!,
                    price: try amount(r.price, "\(p).price"),
                    market: market,
                    marketText: r.marketType,
                    ageMs: try age(r.ageMs, "\(p).age_ms"),
                    operationType: operation
                )
            )
        }
        var scenario = Scenario(
            name: raw.name ?? file,
            description: raw.description ?? "",
            users: outUsers,
            accounts: outAccounts,
            strategies: outStrategies,
            links: outLinks,
            dbOrders: outRows,
            exchangeOrders: outExchange
        )
        scenario.storage = storage
        scenario.originRecords = outRecords
        return scenario
    }
}

extension Scenario.ExchangeSideOrder {
    /// The order with its creation time at `now - age`.
    public func order(now: Millis) -> ExchangeOrder {
        var o = order
        o.time = now - ageMs
        return o
    }
}
