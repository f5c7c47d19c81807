import Foundation
import SyncCore
import Testing

@testable import BinanceAPI
@testable import OriginKeys

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("fixtures")

@Suite struct ClientUnitTests {
    @Test func signsTheOfficialHMACVectors() throws {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("binance/synthesized/hmac_test_vectors.json"))
        let root = try JSONSerialization.jsonObject(with: data)
        let vectors = (root as? [[String: Any]]) ?? ((root as? [String: Any])?["vectors"] as? [[String: Any]]) ?? []
        var checked = 0
        for v in vectors {
            guard let secret = (v["secretKey"] ?? v["secret"] ?? v["secret_key"]) as? String,
                let expected = (v["expected"] ?? v["signature"] ?? v["expected_signature"]) as? String
            else { continue }
            let payload: String
            if let p = (v["payload"] ?? v["signed_string"] ?? v["signedString"] ?? v["totalParams"]) as? String {
                payload = p
            } else if let q = (v["query"] ?? v["query_string"] ?? v["queryString"]) as? String {
                payload = q + ((v["body"] ?? v["request_body"] ?? v["requestBody"]) as? String ?? "")
            } else {
                continue
            }
            #expect(BinanceSession.hmac(Secret(secret), payload) == expected)
            checked += 1
        }
        #expect(checked >= 4)
    }

    /// Binance's words map to the neutral phases, and its stop types to the origin's names.
    @Test func statusesAndTypesMapIntoTheNeutralModel() throws {
        let phases: [(String, ExchangeOrderStatus.Phase)] = [
            ("NEW", .open), ("PENDING_NEW", .open), ("PENDING_CANCEL", .open), ("TRIGGERING", .open),
            ("PARTIALLY_FILLED", .partiallyFilled), ("FILLED", .filled), ("FINISHED", .filled), ("CANCELED", .cancelled),
            ("EXPIRED", .expired), ("EXPIRED_IN_MATCH", .expired), ("REJECTED", .rejected), ("TRIGGERED", .triggered),
        ]
        for (word, phase) in phases {
            let status = try Wire.status(word)
            #expect(status.phase == phase && status.venueText == word, "\(word)")
        }
        #expect(throws: BinanceError.self) { try Wire.status("LOST") }
        #expect(Wire.originType("STOP") == .stopLimit && Wire.originType("STOP_LOSS_LIMIT") == .stopLimit)
        #expect(Wire.originType("STOP_LOSS") == .stopMarket && Wire.originType("STOP_MARKET") == nil && Wire.originType("LIMIT") == nil)
    }

    @Test func percentEncodingLeavesOnlyUnreservedBytes() {
        #expect(BinanceSession.encode("[1,2]") == "%5B1%2C2%5D")
        #expect(BinanceSession.encode("a b+c") == "a%20b%2Bc")
        #expect(BinanceSession.encode("１２") == "%EF%BC%91%EF%BC%92")
        #expect(BinanceSession.encode("os1-7b-k3_J.~") == "os1-7b-k3_J.~")
    }

    @Test func everyOfficialOrderExampleParses() throws {
        func load(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: fixtures.appendingPathComponent("binance/\(name)"))) }
        let spotOpen = try Wire.decode([Wire.Order].self, try load("spot_openOrders.json"), "t")
        #expect(try spotOpen[0].exchangeOrder().quantity == Amount("1"))
        for name in [
            "spot_query_order.json", "spot_new_order_result.json", "spot_new_order_full.json", "futures_new_order.json", "futures_cancel_order.json",
        ] {
            let order = try Wire.decode(Wire.Order.self, try load(name), name).exchangeOrder()
            #expect(order.symbol.hasSuffix("BTC") || order.symbol.hasSuffix("USDT"), "\(name)")
        }
        let cancel = try Wire.decode(Wire.Order.self, try load("spot_cancel_order.json"), "t").exchangeOrder(cancelResponse: true)
        #expect(cancel.clientOrderID == "myOrder1" && cancel.status == .canceled)
        let cancelAll = try JSONSerialization.jsonObject(with: Data(try load("spot_cancel_all_openOrders.json"))) as! [[String: Any]]
        for item in cancelAll where item["orderId"] != nil {
            _ = try Wire.decode(Wire.Order.self, Array(try JSONSerialization.data(withJSONObject: item)), "t").exchangeOrder(cancelResponse: true)
        }
        let futuresOpen = try Wire.decode([Wire.Order].self, try load("futures_openOrders.json"), "t")
        #expect(try futuresOpen[0].exchangeOrder().type == .trailingStopMarket)
        let batch = try Wire.decode([Wire.BatchItem].self, try load("futures_batch_cancel.json"), "t")
        guard case .order = batch[0], case .error(let e) = batch[1] else {
            Issue.record("batch items")
            return
        }
        #expect(e.code == -2011)
        #expect(try Wire.decode(Wire.ServerTime.self, try load("spot_time.json"), "t").serverTime > 0)
        #expect(try Wire.decode(Wire.ServerTime.self, try load("futures_time.json"), "t").serverTime > 0)
        let limits = try Wire.decode([Wire.ExchangeInfo.RateLimit].self, try load("futures_exchangeInfo_rateLimits.json"), "t")
        #expect(limits.first { $0.rateLimitType == "REQUEST_WEIGHT" }?.limit == 2400)
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent("binance").path)
        where name.hasPrefix("error_") {
            #expect(throws: Never.self) { _ = try Wire.decode(Wire.ErrorBody.self, try load(name), name) }
        }
        // The Algo service's documented shape (developers.binance.com, Current All Algo Open Orders).
        let algoJSON =
            #"[{"algoId":2148627,"clientAlgoId":"MRumok0dkhrP4kCm12AHaB","algoType":"CONDITIONAL","orderType":"TAKE_PROFIT","symbol":"BNBUSDT","side":"SELL","positionSide":"BOTH","timeInForce":"GTC","quantity":"0.01","algoStatus":"NEW","actualOrderId":"","actualPrice":"0.00000","triggerPrice":"750.000","price":"750.000","icebergQuantity":null,"createTime":1750514941540,"updateTime":1750514941540,"triggerTime":0,"goodTillDate":0}]"#
        let algo = try Wire.decode([Wire.AlgoOrder].self, Array(algoJSON.utf8), "t")[0].exchangeOrder()
        #expect(algo.id == .algo(2_148_627) && algo.stopPrice == Amount("750") && algo.status == .new && algo.isAlgo)
        // Garbage is a typed decoding error, not a crash.
        #expect(throws: BinanceError.self) { try Wire.decode([Wire.Order].self, Array("[{\"orderId\":".utf8), "t") }
        #expect(throws: BinanceError.self) {
            try Wire.decode(
                Wire.Order.self,
                Array(#"{"symbol":"X","orderId":1,"price":"1,5","origQty":"1","executedQty":"0","status":"NEW","type":"LIMIT","side":"BUY"}"#.utf8),
                "t"
            ).exchangeOrder()
        }
    }

    struct FernetFile: Decodable {
        struct Vector: Decodable {
            var key: String
            var token: String
            var plaintext: String
        }
        var vectors: [Vector]
        var wrong_key: String
    }

    @Test func fernetTokensFromPythonCryptographyDecryptAndTamperingIsRejected() throws {
        let file = try JSONDecoder().decode(FernetFile.self, from: Data(contentsOf: fixtures.appendingPathComponent("fernet/vectors.json")))
        #expect(file.vectors.count >= 5)
        for v in file.vectors {
            #expect(String(data: try Fernet.decrypt(token: v.token, key: v.key), encoding: .utf8) == v.plaintext)
            #expect(throws: Fernet.Failure.badSignature) { try Fernet.decrypt(token: v.token, key: file.wrong_key) }
            // Flip one bit of the ciphertext (inside the base64 body): the HMAC no longer verifies.
            var bytes = Fernet.urlSafeBase64(v.token)!
            bytes[30] ^= 0x01
            let tampered = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(throws: Fernet.Failure.badSignature) { try Fernet.decrypt(token: tampered, key: v.key) }
            var version = Fernet.urlSafeBase64(v.token)!
            version[0] = 0x81
            let badVersion = version.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(throws: Fernet.Failure.badVersion) { try Fernet.decrypt(token: badVersion, key: v.key) }
        }
        #expect(throws: Fernet.Failure.badToken) { try Fernet.decrypt(token: "gAAAAA-not-a-token", key: file.vectors[0].key) }
        #expect(throws: Fernet.Failure.badKey) { try Fernet.decrypt(token: file.vectors[0].token, key: "short") }
    }

    @Test func credentialsResolveFromTheAccountsRow() throws {
        let file = try JSONDecoder().decode(FernetFile.self, from: Data(contentsOf: fixtures.appendingPathComponent("fernet/vectors.json")))
        let v = file.vectors[0]
        func account(_ secret: String) -> AccountRecord {
            AccountRecord(
                id: AccountID(7),
                user: UserID(1),
                name: "a",
                exchange: "BINANCE",
                apiKey: "pub",
                apiSecret: Secret(secret),
                isTestnet: false,
                isActive: true
            )
        }
        // Plaintext is tolerated; Fernet needs the key; the environment overrides per account.
        #expect(try Credentials.resolve(account("plain"), environment: [:]).secret.reveal() == "plain")
        #expect(try Credentials.resolve(account(v.token), environment: ["ACCOUNTS_ENCRYPTION_KEY": v.key]).secret.reveal() == v.plaintext)
        // Without a configured key the origin's default SECRET_KEY derivation applies, which this vector's key is not.
        let missing = #expect(throws: CredentialError.self) { try Credentials.resolve(account(v.token), environment: [:]) }
        #expect(
            missing?.description.contains(
                "secret_api is Fernet ciphertext that does not decrypt with the key derived from the origin's default SECRET_KEY"
            ) == true
        )
        let wrong = #expect(throws: CredentialError.self) {
            try Credentials.resolve(account(v.token), environment: ["ACCOUNTS_ENCRYPTION_KEY": file.wrong_key])
        }
        #expect(wrong?.description.contains(v.plaintext) == false && wrong?.description.contains(v.token) == false)
        let overridden = try Credentials.resolve(
            account(v.token),
            environment: ["ORDERSYNC_ACCOUNT_7_API_KEY": "envkey", "ORDERSYNC_ACCOUNT_7_API_SECRET": "envsecret"]
        )
        #expect(overridden.apiKey == "envkey" && overridden.secret.reveal() == "envsecret")
        #expect("\(overridden)".contains("envsecret") == false)
    }

    /// Both key columns as the origin app writes them (fixtures/scenarios/origin-shaped.json, made by
    /// Python's `cryptography` under the origin's rule): its key derivations, each setting named on failure.
    @Test func originKeysDecryptByTheOriginsOwnRules() throws {
        struct Fixture: Decodable {
            struct Account: Decodable {
                var id: Int64
                var api_key: String
                var api_secret: String
                var stored_public_api: String
                var stored_secret_api: String
            }
            var accounts: [Account]
        }
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: fixtures.appendingPathComponent("scenarios/origin-shaped.json")))
        let a = fixture.accounts[0]
        let record = AccountRecord(
            id: AccountID(a.id),
            user: UserID(1),
            name: "a",
            exchange: "BINANCE",
            apiKey: a.stored_public_api,
            apiSecret: Secret(a.stored_secret_api),
            isTestnet: false,
            isActive: true
        )
        // Default SECRET_KEY; the same SECRET_KEY given explicitly; ACCOUNTS_ENCRYPTION_KEY that is not a Fernet key is hashed.
        for environment in [[:], ["SECRET_KEY": OriginKey.defaultSecretKey], ["ACCOUNTS_ENCRYPTION_KEY": OriginKey.defaultSecretKey]] {
            let c = try Credentials.resolve(record, environment: environment)
            #expect(c.apiKey == a.api_key && c.secret.reveal() == a.api_secret, "\(environment.keys)")
        }
        // A Fernet key given as ACCOUNTS_ENCRYPTION_KEY is used as-is (the derived one, spelled out).
        let derived = OriginKey.hashed(OriginKey.defaultSecretKey)
        #expect(try Credentials.resolve(record, environment: ["ACCOUNTS_ENCRYPTION_KEY": derived]).apiKey == a.api_key)
        let wrong = #expect(throws: CredentialError.self) { try Credentials.resolve(record, environment: ["SECRET_KEY": "rotated"]) }
        #expect(wrong?.description.contains("public_api is Fernet ciphertext that does not decrypt with the key derived from SECRET_KEY") == true)
        #expect(wrong?.description.contains("rotated") == false && wrong?.description.contains(a.stored_public_api) == false)
    }

    @Test func weightIntervalsParse() {
        #expect(WeightGovernor.intervalMs("1M") == 60_000)
        #expect(WeightGovernor.intervalMs("10S") == 10_000)
        #expect(WeightGovernor.intervalMs("1D") == 86_400_000)
        #expect(WeightGovernor.intervalMs("M") == nil && WeightGovernor.intervalMs("5X") == nil)
    }

    /// The learned offset never puts a stamp more than `maximumLead` ahead of the server's clock,
    /// wherever in the round trip the server read its time, and is the midpoint when the round trip
    /// is quick: a busy machine that delays the request before it leaves cannot cause -1021.
    @Test func theLearnedOffsetIsNeverFarAheadOfTheServer() {
        let seed = SeededGenerator.seed(fallback: 0x71AE, environment: ProcessInfo.processInfo.environment)
        print("ClientUnitTests offset seed \(seed) (ORDERSYNC_SEED overrides)")
        var rng = SeededGenerator(seed: seed)
        #expect(HostRegistry.offset(serverTime: 10_050, before: 0, after: 100) == 10_000, "a quick round trip: the midpoint")
        for _ in 0..<10_000 {
            let trueOffset = Millis.random(in: -100_000...100_000, using: &rng)
            let before = Millis.random(in: 0...1_000_000, using: &rng)
            let roundTrip = Millis.random(in: 0...(Bool.random(using: &rng) ? 200 : 20_000), using: &rng)
            let read = before + Millis.random(in: 0...roundTrip, using: &rng)  // when the server read its clock
            let offset = HostRegistry.offset(serverTime: read + trueOffset, before: before, after: before + roundTrip)
            let lead = offset - trueOffset  // how far ahead of the server a stamp taken now would be
            #expect(lead <= HostRegistry.maximumLead && lead >= -roundTrip, "seed \(seed): round trip \(roundTrip), lead \(lead)")
        }
    }
}
