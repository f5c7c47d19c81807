/// ordersync's own client-order-id format, naming the strategy link that owns an order:
///
///     <prefix>-<link id, base 36>-<nonce><check>
///     os1-7b-k3J9x2pQ4m
///
/// - `prefix`: `[A-Za-z0-9]{1,8}`, default `os1` (lets two installations tell their tags apart);
/// - `link id`: `strategy_accounts.id` in lowercase base 36;
/// - `nonce`: `[A-Za-z0-9]{1,20}`, chosen by whoever places the order (unique among its open orders);
/// - `check`: two base-36 characters of an FNV-1a hash of everything before it, so a hand-typed
///   or foreign id that merely looks similar does not decode.
///
/// Every tag matches `^[A-Za-z0-9_-]{1,36}$`, valid on spot and on futures.
public struct ClientOrderTagCodec: Sendable, Hashable {
    public let prefix: String

    public static let `default` = ClientOrderTagCodec(validatedPrefix: "os1")
    public static let maxLength = 36

    /// Why a tag could not be made.
    public enum EncodeError: Error, Hashable, Sendable {
        case invalidPrefix(String)
        case invalidNonce(String)
        case tooLong(length: Int)
    }

    private init(validatedPrefix: String) { self.prefix = validatedPrefix }

    public init(prefix: String) throws(EncodeError) {
        guard (1...8).contains(prefix.utf8.count), prefix.utf8.allSatisfy(Self.isAlphanumeric) else {
            throw .invalidPrefix(prefix)
        }
        self.prefix = prefix
    }

    /// The tag for an order of `link` with the given nonce.
    public func encode(link: StrategyLinkID, nonce: String) throws(EncodeError) -> String {
        guard (1...20).contains(nonce.utf8.count), nonce.utf8.allSatisfy(Self.isAlphanumeric) else {
            throw .invalidNonce(nonce)
        }
        guard link.rawValue > 0 else { throw .invalidNonce("link id must be positive") }
        let body = prefix + "-" + String(link.rawValue, radix: 36) + "-" + nonce
        let tag = body + Self.check(body)
        guard tag.utf8.count <= Self.maxLength else { throw .tooLong(length: tag.utf8.count) }
        return tag
    }

    /// The strategy link a client order id names, or nil when it is not one of this codec's tags
    /// (other prefix, wrong shape, bad check characters).
    public func decode(_ clientOrderID: String) -> StrategyLinkID? {
        let utf8 = clientOrderID.utf8
        guard utf8.count <= Self.maxLength, clientOrderID.hasPrefix(prefix + "-") else { return nil }
        let rest = clientOrderID.dropFirst(prefix.count + 1)
        let parts = rest.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let linkText = parts[0]
        let tail = parts[1]
        guard !linkText.isEmpty, linkText.utf8.count <= 12,
            linkText.utf8.allSatisfy({ Self.isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) }),
            linkText.first != "0",
            let raw = Int64(linkText, radix: 36), raw > 0
        else { return nil }
        guard tail.utf8.count >= 3, tail.utf8.allSatisfy(Self.isAlphanumeric) else { return nil }
        let nonceEnd = tail.index(tail.endIndex, offsetBy: -2)
        let body = clientOrderID[..<clientOrderID.index(clientOrderID.endIndex, offsetBy: -2)]
        guard Self.check(body) == tail[nonceEnd...] else { return nil }
        return StrategyLinkID(raw)
    }

    static func check(_ body: some StringProtocol) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in body.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        let value = Int(hash % 1296)
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return String([alphabet[value / 36], alphabet[value % 36]])
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    static func isAlphanumeric(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
}

/// Another system's client-order-id convention that names the strategy link, given as a regular
/// expression with a named group `link` holding the decimal `strategy_accounts.id`, e.g.
/// `^web_(?<link>[0-9]+)_`.
public struct ForeignTagConvention: Sendable {
    public let name: String
    public let pattern: String

    public struct InvalidPattern: Error, Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public let message: String
        public var description: String { "tag convention \"\(name)\": \(message)" }
    }

    public init(name: String, pattern: String) throws(InvalidPattern) {
        guard pattern.contains("(?<link>") else {
            throw InvalidPattern(name: name, message: "the pattern needs a named group (?<link>…) for the strategy link id")
        }
        do {
            _ = try Regex(pattern)
        } catch {
            throw InvalidPattern(name: name, message: "not a valid regular expression: \(error)")
        }
        self.name = name
        self.pattern = pattern
    }

    /// The link id the client order id names under this convention, if it matches.
    ///
    /// `Regex` is not `Sendable`, so the validated pattern is compiled per call; this runs only
    /// for listed orders that have no row, a handful per pass.
    public func decode(_ clientOrderID: String) -> StrategyLinkID? {
        guard let regex = try? Regex(pattern), let match = try? regex.firstMatch(in: clientOrderID),
            let group = match.output["link"], let substring = group.substring,
            let raw = Int64(substring), raw > 0
        else { return nil }
        return StrategyLinkID(raw)
    }
}

/// An operator's statement that orders on `account` and `symbol` (optionally one side) belong to
/// `link`. At most one link may claim an account and symbol.
public struct OperatorClaim: Sendable, Hashable, Codable {
    public var account: AccountID
    public var symbol: String
    public var side: Side?
    public var link: StrategyLinkID

    public init(account: AccountID, symbol: String, side: Side? = nil, link: StrategyLinkID) {
        self.account = account
        self.symbol = symbol
        self.side = side
        self.link = link
    }
}

/// A validated set of claims: at most one claimant link per account and symbol.
public struct ClaimSet: Sendable, Hashable {
    struct Key: Hashable, Sendable {
        var account: AccountID
        var symbol: String
    }
    private var byKey: [Key: [OperatorClaim]] = [:]

    public struct Conflict: Error, Hashable, Sendable, CustomStringConvertible {
        public let account: AccountID
        public let symbol: String
        public let links: [StrategyLinkID]
        public var description: String {
            "account \(account) symbol \(symbol) is claimed by more than one strategy link (\(links.map(\.description).joined(separator: ", ")))"
        }
    }

    public static let empty = ClaimSet()
    private init() {}

    public init(_ claims: [OperatorClaim]) throws(Conflict) {
        for claim in claims {
            let key = Key(account: claim.account, symbol: SymbolKey.of(claim.symbol))
            let existing = byKey[key, default: []]
            if let other = existing.first, other.link != claim.link {
                throw Conflict(account: claim.account, symbol: claim.symbol, links: [other.link, claim.link])
            }
            byKey[key, default: []].append(claim)
        }
    }

    /// The symbols claimed on an account (listed even when no row names them).
    public func symbols(account: AccountID) -> Set<String> {
        Set(byKey.keys.filter { $0.account == account }.map(\.symbol))
    }

    /// The link that claims an order, if any claim covers its account, symbol and side.
    public func claimant(account: AccountID, symbol: String, side: Side) -> StrategyLinkID? {
        guard let claims = byKey[Key(account: account, symbol: SymbolKey.of(symbol))] else { return nil }
        return claims.first(where: { $0.side == nil || $0.side == side })?.link
    }

    public var isEmpty: Bool { byKey.isEmpty }

    /// These claims and `more`, except those of `more` that another link's claim here already
    /// covers (these win: the configuration's over the database's).
    public func adding(_ more: [OperatorClaim]) -> ClaimSet {
        var merged = self
        for claim in more {
            let key = Key(account: claim.account, symbol: SymbolKey.of(claim.symbol))
            if let other = merged.byKey[key]?.first, other.link != claim.link { continue }
            if merged.byKey[key]?.contains(claim) != true { merged.byKey[key, default: []].append(claim) }
        }
        return merged
    }
}

/// What made an orphan attributable.
public enum AttributionEvidence: Sendable, Hashable, Codable, CustomStringConvertible {
    /// ordersync's own client-order-id tag.
    case tag
    /// A configured foreign convention, by name.
    case foreignTag(String)
    /// The origin app recorded the order id against a link (`trades`, `failed_orders`, …).
    case recorded(OriginRecord.Table, id: Int64)
    /// The origin's placeholder row for the order, matched by its fingerprint.
    case placeholder(OpenOrderRowID)
    /// An operator claim.
    case claim

    public var description: String {
        switch self {
        case .tag: return "ordersync tag"
        case .foreignTag(let name): return "tag convention \(name)"
        case .recorded(let table, let id): return "the origin's record \(table.rawValue) #\(id)"
        case .placeholder(let row): return "the origin's placeholder row #\(row)"
        case .claim: return "operator claim"
        }
    }

    /// The machine form in reports and `sync_findings.evidence`: `tag`, `convention:<name>`,
    /// `recorded:<table>#<id>`, `placeholder:<row id>`, `claim`.
    public var code: String {
        switch self {
        case .tag: return "tag"
        case .foreignTag(let name): return "convention:\(name)"
        case .recorded(let table, let id): return "recorded:\(table.rawValue)#\(id)"
        case .placeholder(let row): return "placeholder:\(row)"
        case .claim: return "claim"
        }
    }
}

/// The verdict on who owns an exchange order that has no row.
public enum Attribution: Sendable, Hashable {
    /// Owned by this link, shown by this evidence.
    case owned(StrategyLinkID, AttributionEvidence)
    /// No evidence of an owner; `conflict` says why evidence that exists was not accepted.
    case unattributed(conflict: String?)
    /// Evidence may still settle (a placeholder the origin is placing): decide on a later pass.
    case awaiting(String)
}

/// Attributes orders to strategy links by evidence only, in this order: ordersync's tag, the
/// foreign conventions, the origin's records of the order id, the origin's placeholder row,
/// operator claims. The first kind of evidence present decides: evidence naming a link not on the
/// order's account and market, or several links, is a conflict, and no weaker evidence overrides it.
public struct Attributor: Sendable {
    public var tags: ClientOrderTagCodec
    public var conventions: [ForeignTagConvention]
    public var claims: ClaimSet
    /// How close a placeholder row's creation must be to the order's time.
    public var placeholderWindow: PlaceholderWindow

    public init(
        tags: ClientOrderTagCodec = .default,
        conventions: [ForeignTagConvention] = [],
        claims: ClaimSet = .empty,
        placeholderWindow: PlaceholderWindow = PlaceholderWindow()
    ) {
        self.tags = tags
        self.conventions = conventions
        self.claims = claims
        self.placeholderWindow = placeholderWindow
    }

    /// The link a client order id's tag or convention names, if any (evidence that needs no lookup).
    public func taggedLink(_ order: ExchangeOrder) -> (StrategyLinkID, AttributionEvidence)? {
        guard let client = order.clientOrderID else { return nil }
        if let link = tags.decode(client) { return (link, .tag) }
        for convention in conventions {
            if let link = convention.decode(client) { return (link, .foreignTag(convention.name)) }
        }
        return nil
    }

    /// `records`: the origin's records that may name this order (any are filtered to those that
    /// describe it); `placeholder`: the placeholder verdict for it, if any row matched.
    public func attribute(
        _ order: ExchangeOrder,
        account: AccountID,
        market: Market,
        links: [StrategyLinkID: StrategyLink],
        records: [OriginRecord] = [],
        placeholder: PlaceholderVerdict? = nil
    ) -> Attribution {
        if let verdict = settled(order, account: account, market: market, links: links, records: records) { return verdict }
        switch placeholder {
        case .unique(let row)?:
            return check(row.link, .placeholder(row.id), account: account, market: market, links: links)
        case .ambiguous(let rows, let orders)?:
            return .unattributed(
                conflict: "placeholder row(s) \(rows.map { "#\($0)" }.joined(separator: ", ")) match order(s) "
                    + "\(orders.map(\.rawValue).joined(separator: ", ")); several candidates: nothing adopted"
            )
        case .placing(let row)?:
            return .awaiting("the origin's PENDING placeholder row #\(row) matches it and may still receive this id")
        case nil:
            break
        }
        if let link = claims.claimant(account: account, symbol: order.symbol, side: order.side) {
            return check(link, .claim, account: account, market: market, links: links)
        }
        return .unattributed(conflict: nil)
    }

    /// The verdict of the evidence that needs no other order to weigh — a tag, a convention, the
    /// origin's records — or nil when there is none. An order it adopts is no placeholder's twin.
    public func settled(
        _ order: ExchangeOrder,
        account: AccountID,
        market: Market,
        links: [StrategyLinkID: StrategyLink],
        records: [OriginRecord]
    ) -> Attribution? {
        if let (link, evidence) = taggedLink(order) { return check(link, evidence, account: account, market: market, links: links) }
        let relevant = records.filter { $0.describes(order, market: market) }.sorted { ($0.table, $0.id) < ($1.table, $1.id) }
        guard let first = relevant.first else { return nil }
        let named = Set(relevant.map(\.link))
        guard named.count == 1 else {
            let list = relevant.map { "\($0.table.rawValue) #\($0.id) → link \($0.link)" }.joined(separator: ", ")
            return .unattributed(conflict: "the origin's records name \(named.count) strategy links (\(list)); nothing adopted")
        }
        return check(first.link, .recorded(first.table, id: first.id), account: account, market: market, links: links)
    }

    /// Evidence is accepted only for a link of the order's account and market.
    func check(
        _ link: StrategyLinkID,
        _ evidence: AttributionEvidence,
        account: AccountID,
        market: Market,
        links: [StrategyLinkID: StrategyLink]
    ) -> Attribution {
        guard let known = links[link], known.account == account else {
            return .unattributed(conflict: "\(evidence) names strategy link \(link), which is not on account \(account)")
        }
        guard known.market == market else {
            return .unattributed(
                conflict: "\(evidence) names strategy link \(link), a \(known.market.rawValue) strategy, for a \(market.rawValue) order"
            )
        }
        return .owned(link, evidence)
    }
}
