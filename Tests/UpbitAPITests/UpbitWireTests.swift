import FlatJSON
import Foundation
import SyncCore
import SyncTestSupport
import Testing

@testable import UpbitAPI

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let examples = repository.appendingPathComponent("fixtures/upbit")

/// Upbit's wire: the official example payloads parse into the model, errors map by name, and the
/// JWT is one an independent implementation (PyJWT, installed by scripts/bootstrap) verifies.
@Suite struct UpbitWireTests {
    static func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: examples.appendingPathComponent(name))) }

    @Test func theOfficialOrderExamplesParse() throws {
        let open = try UpbitWire.decode([UpbitWire.Order].self, try Self.bytes("upbit_orders_open_response.json")).map { try $0.exchangeOrder() }
        #expect(open.count == 1)
        let o = open[0]
        #expect(
            o.id.rawValue == "637fd66-d019-4d77-bee6-8e0cff28edd9" && o.side == .sell && o.status == ExchangeOrderStatus(.open, venueText: "wait")
                && o.status.isOpen
        )
        #expect(o.symbol == SymbolKey.of("XRP/SGD") && o.price == Amount("1.5") && o.quantity == Amount("10") && o.executedQuantity.isZero)
        #expect(o.time == UTC.parse("2024-06-05T09:37:10Z"))

        let done = try UpbitWire.decode(UpbitWire.Order.self, try Self.bytes("upbit_get_order_response.json")).exchangeOrder()
        #expect(
            done.status == ExchangeOrderStatus(.filled, venueText: "done") && done.side == .buy && done.symbol == SymbolKey.of("BTC/KRW")
                && done.executedQuantity == Amount("1")
        )
        // +09:00: nine hours before the same wall-clock time in UTC.
        #expect(done.time == UTC.parse("2018-04-05T05:09:14Z"))
    }

    @Test(arguments: [
        ("wait", "0", ExchangeOrderStatus.Phase.open), ("wait", "0.5", .partiallyFilled), ("watch", "0", .open), ("done", "1", .filled),
        ("cancel", "0.3", .cancelled),
    ])
    func statesMap(state: String, executed: String, phase: ExchangeOrderStatus.Phase) {
        #expect(UpbitWire.status(state, executed: Amount(executed)!) == ExchangeOrderStatus(phase, venueText: state))
    }

    /// The fast reader and JSONDecoder agree: on the official examples (read fast), on a body with
    /// a field of another type (the fast reader steps aside and JSONDecoder judges), on escapes.
    @Test func theFastOrderReaderAgreesWithJSONDecoder() throws {
        let example = try Self.bytes("upbit_orders_open_response.json")
        #expect(FlatJSON.objects(example, keys: UpbitWire.Order.flatKeys) != nil)
        #expect(try UpbitWire.orders(example) == (try UpbitWire.decode([UpbitWire.Order].self, example)))
        let escaped = Array(
            #"[{"uuid":"u\"1","side":"bid","ord_type":"limit","price":"1","state":"wait","market":"KRW-BTC","created_at":"2024-06-05T09:37:10Z","identifier":"a\\b\u00e9"}]"#
                .utf8
        )
        #expect(try UpbitWire.orders(escaped) == (try UpbitWire.decode([UpbitWire.Order].self, escaped)))
        let numeric = Array(#"[{"uuid":"u","side":"bid","ord_type":"limit","price":1,"state":"wait","market":"KRW-BTC","created_at":"x"}]"#.utf8)
        #expect(throws: UpbitError.self) { try UpbitWire.orders(numeric) }
    }

    @Test func badPayloadsAreTypedErrors() {
        #expect(throws: UpbitError.self) { try UpbitWire.decode([UpbitWire.Order].self, Array("[{\"uuid\":".utf8)) }
        var order = UpbitWire.Order(
            uuid: "u",
            side: "bid",
            ord_type: "limit",
            price: "1",
            state: "wait",
            market: "KRW-BTC",
            created_at: "2024-06-05T09:37:10Z"
        )
        order.state = "lost"
        #expect(throws: UpbitError.self) { try order.exchangeOrder() }
        order.state = "wait"
        order.created_at = "yesterday"
        #expect(throws: UpbitError.self) { try order.exchangeOrder() }
    }

    @Test func errorsMapByStatusAndName() throws {
        #expect(UpbitError.from(status: 404, body: try Self.bytes("upbit_error_order_not_found.json")).kind == .notFound)
        let numeric = Array(#"{"error":{"message":"Missing request parameter error.","name":400}}"#.utf8)
        #expect(try UpbitWire.decode(UpbitWire.ErrorBody.self, numeric).error.name == "400")
        #expect(UpbitError.from(status: 400, body: numeric).kind == .rejected)
        #expect(UpbitError.from(status: 401, body: Array(#"{"error":{"name":"jwt_verification"}}"#.utf8)).kind == .authentication)
        #expect(UpbitError.from(status: 429, body: []).kind == .rateLimited && UpbitError.from(status: 418, body: []).kind == .banned)
    }

    /// The token verifies under PyJWT with the secret, for both algorithms, and its `query_hash` is
    /// Python's hashlib SHA-512 of the query string as sent.
    @Test(arguments: [UpbitAuth.Algorithm.hs512, .hs256])
    func theTokenVerifiesInAnIndependentImplementation(algorithm: UpbitAuth.Algorithm) async throws {
        let python = repository.appendingPathComponent(".build-py/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "PyJWT missing: scripts/bootstrap installs it into .build-py")
        let query = "market=KRW-BTC&states[]=wait&states[]=watch&page=1&limit=100&order_by=asc"
        let header = UpbitAuth.authorization(
            accessKey: "access-1",
            secret: Secret("s3cret-key"),
            query: query,
            nonce: "9f2a",
            timestamp: algorithm == .hs256 ? 1_750_000_000_000 : nil,
            algorithm: algorithm
        )
        #expect(header.hasPrefix("Bearer "))
        let token = String(header.dropFirst("Bearer ".count))
        let script = """
            import hashlib, json, sys, jwt
            token, query = sys.argv[1], sys.argv[2]
            claims = jwt.decode(token, "s3cret-key", algorithms=[sys.argv[3]])
            print(json.dumps({"claims": claims, "hash": hashlib.sha512(query.encode()).hexdigest(),
                              "alg": jwt.get_unverified_header(token)["alg"]}, sort_keys=True))
            try:
                jwt.decode(token, "another-key", algorithms=[sys.argv[3]])
                print("WRONG KEY ACCEPTED")
            except jwt.InvalidSignatureError:
                pass
            """
        let result = try await ChildProcess.run(python, ["-c", script, token, query, algorithm.rawValue])
        let text = result.stdout + result.stderr
        try #require(result.status == 0, "\(text)")
        #expect(!text.contains("WRONG KEY ACCEPTED"))
        struct Answer: Decodable {
            struct Claims: Decodable {
                var access_key: String
                var nonce: String
                var query_hash: String?
                var query_hash_alg: String?
                var timestamp: Int64?
            }
            var claims: Claims
            var hash: String
            var alg: String
        }
        let answer = try JSONDecoder().decode(Answer.self, from: Data(result.stdout.split(separator: "\n")[0].utf8))
        #expect(answer.alg == algorithm.rawValue && answer.claims.access_key == "access-1" && answer.claims.nonce == "9f2a")
        #expect(answer.claims.query_hash == answer.hash && answer.claims.query_hash_alg == "SHA512")
        #expect(answer.claims.timestamp == (algorithm == .hs256 ? 1_750_000_000_000 : nil))
        // Without parameters there is no query hash at all.
        let bare = UpbitAuth.authorization(accessKey: "a", secret: Secret("s"), query: "", nonce: "n")
        let payload = String(bare.split(separator: ".")[1])
        var padded = payload.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while padded.utf8.count % 4 != 0 { padded += "=" }
        let claims = String(decoding: Data(base64Encoded: padded) ?? Data(), as: UTF8.self)
        #expect(claims == #"{"access_key":"a","nonce":"n"}"#)
    }

    /// A nonce is a random version-4 UUID in lower case, never the same twice.
    @Test func noncesAreFreshVersionFourUUIDs() {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let nonce = UpbitAuth.nonce()
            let parts = nonce.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            #expect(parts.map(\.count) == [8, 4, 4, 4, 12], "\(nonce)")
            #expect(nonce.allSatisfy { "0123456789abcdef-".contains($0) }, "\(nonce)")
            #expect(parts[2].first == "4" && "89ab".contains(parts[3].first ?? "x"), "\(nonce)")
            #expect(UUID(uuidString: nonce) != nil)
            seen.insert(nonce)
        }
        #expect(seen.count == 1000)
    }

    /// Query components are percent-encoded byte by byte: RFC 3986's unreserved ASCII stays,
    /// everything else (brackets, spaces, non-ASCII letters) is `%XX` of its UTF-8 bytes.
    @Test(arguments: [
        ("KRW-BTC", "KRW-BTC"),
        ("a.b_c~d", "a.b_c~d"),
        ("states[]", "states%5B%5D"),
        ("a b&c=d", "a%20b%26c%3Dd"),
        ("한", "%ED%95%9C"),
        ("é", "%C3%A9"),
        ("", ""),
    ])
    func queryComponentsArePercentEncoded(_ text: String, _ expected: String) {
        #expect(UpbitClient.encode(text) == expected)
        #expect(UpbitClient.encode(text).removingPercentEncoding == text)
    }
}
