import Foundation
import SyncCore
import SyncTestSupport
import Testing

@Suite struct TagTests {
    @Test func roundTripsAndStaysWithinTheCharset() throws {
        var rng = SeededGenerator(seed: 42)
        let codec = ClientOrderTagCodec.default
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        for _ in 0..<5_000 {
            let link = StrategyLinkID(Int64.random(in: 1...4_000_000_000_000, using: &rng))
            let nonce = String((0..<Int.random(in: 1...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let tag = try codec.encode(link: link, nonce: nonce)
            #expect(tag.utf8.count <= 36)
            #expect(tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            #expect(codec.decode(tag) == link)
        }
    }

    @Test func rejectsLookalikes() throws {
        let codec = ClientOrderTagCodec.default
        let tag = try codec.encode(link: StrategyLinkID(7), nonce: "abc123")
        #expect(codec.decode(tag) == StrategyLinkID(7))
        // Another link id with the same check characters, a changed nonce, another prefix: no.
        #expect(codec.decode(tag.replacingOccurrences(of: "os1-7-", with: "os1-8-")) == nil)
        #expect(codec.decode(tag.replacingOccurrences(of: "abc123", with: "abc124")) == nil)
        #expect(codec.decode("os2" + tag.dropFirst(3)) == nil)
        #expect(try ClientOrderTagCodec(prefix: "os2").decode(tag) == nil)
        for text in ["", "web_123", "os1-", "os1-7-", "os1-7-ab", "os1-07-abc12", "os1-7-abc-12", "x-TKT5PX2Fabcdefghijklmnopqrstuv"] {
            #expect(codec.decode(text) == nil, "\(text)")
        }
    }

    @Test func refusesToMakeInvalidTags() {
        #expect(throws: ClientOrderTagCodec.EncodeError.self) { try ClientOrderTagCodec(prefix: "bad-prefix") }
        #expect(throws: ClientOrderTagCodec.EncodeError.self) { try ClientOrderTagCodec.default.encode(link: StrategyLinkID(1), nonce: "has space") }
        #expect(throws: ClientOrderTagCodec.EncodeError.self) { try ClientOrderTagCodec.default.encode(link: StrategyLinkID(1), nonce: "") }
        #expect(throws: ClientOrderTagCodec.EncodeError.self) {
            try ClientOrderTagCodec(prefix: "abcdefgh").encode(link: StrategyLinkID(Int64.max), nonce: "12345678901234567890")
        }
    }

    @Test func decodesAForeignConvention() throws {
        let convention = try ForeignTagConvention(name: "webserver", pattern: #"^web_(?<link>[0-9]+)_"#)
        #expect(convention.decode("web_42_17000000") == StrategyLinkID(42))
        #expect(convention.decode("web_x_1") == nil)
        #expect(convention.decode("manual") == nil)
        #expect(throws: ForeignTagConvention.InvalidPattern.self) { try ForeignTagConvention(name: "n", pattern: #"^web_([0-9]+)"#) }
        #expect(throws: ForeignTagConvention.InvalidPattern.self) { try ForeignTagConvention(name: "n", pattern: #"(?<link>[0-9"#) }
    }

    @Test func claimsAllowOneClaimantPerAccountAndSymbol() throws {
        let a = AccountID(1)
        let claims = try ClaimSet([
            OperatorClaim(account: a, symbol: "BTCUSDT", side: .buy, link: StrategyLinkID(3)),
            OperatorClaim(account: a, symbol: "BTCUSDT", side: .sell, link: StrategyLinkID(3)),
        ])
        #expect(claims.claimant(account: a, symbol: "BTCUSDT", side: .buy) == StrategyLinkID(3))
        #expect(claims.claimant(account: a, symbol: "ETHUSDT", side: .buy) == nil)
        #expect(claims.claimant(account: AccountID(2), symbol: "BTCUSDT", side: .buy) == nil)
        #expect(throws: ClaimSet.Conflict.self) {
            try ClaimSet([
                OperatorClaim(account: a, symbol: "BTCUSDT", link: StrategyLinkID(3)),
                OperatorClaim(account: a, symbol: "BTCUSDT", side: .sell, link: StrategyLinkID(4)),
            ])
        }
        let sideOnly = try ClaimSet([OperatorClaim(account: a, symbol: "BTCUSDT", side: .sell, link: StrategyLinkID(3))])
        #expect(sideOnly.claimant(account: a, symbol: "BTCUSDT", side: .buy) == nil)
    }
}
