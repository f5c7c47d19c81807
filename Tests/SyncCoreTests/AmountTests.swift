import Foundation
import SyncCore
import Testing

@Suite struct AmountTests {
    @Test(arguments: [
        ("0.010", "0.01"), ("0.01", "0.01"), ("1e-2", "0.01"), ("1E-05", "0.00001"), ("+5", "5"), ("-3.50", "-3.5"),
        ("60000", "60000"), ("6e4", "60000"), ("000123.4500", "123.45"), ("0", "0"), ("-0.000", "0"), (".5", "0.5"),
        ("5.", "5"), ("123456789012345678", "123456789012345678"), ("1e+16", "10000000000000000"),
    ])
    func parsesToCanonicalText(input: String, canonical: String) throws {
        let amount = try #require(Amount(input))
        #expect(amount.description == canonical)
        #expect(Amount(canonical) == amount)
    }

    @Test(arguments: [
        "", " 1", "1 ", "1,5", "abc", "nan", "inf", "1e", "1e+", "--1", "1.2.3", ".", "-", "0x10",
        "1234567890123456789", "1e99999",
    ])
    func rejectsNonDecimals(input: String) {
        #expect(Amount(input) == nil)
    }

    @Test func equalityIgnoresTrailingZeros() {
        #expect(Amount("0.010") == Amount("0.01"))
        #expect(Amount("0.010")!.hashValue == Amount("0.01")!.hashValue)
        #expect(Amount("0.011") != Amount("0.01"))
    }

    @Test(arguments: [
        ("0.01", "0.02"), ("0.009", "0.01"), ("-1", "0"), ("-2", "-1"), ("99.99", "100"), ("0", "0.00000001"),
        ("123456789012345678", "1234567890123456780"), ("1e-8", "1e-7"),
    ])
    func ordersExactly(smaller: String, larger: String) throws {
        let a = try #require(Amount(smaller))
        let b = try #require(Amount(larger))
        #expect(a < b)
        #expect(!(b < a))
        #expect(b > a)
    }

    @Test func readsTheOriginAppsFloats() throws {
        // SQLite FLOAT columns come back as Double; their shortest form is the decimal meant.
        #expect(Amount(0.01 as Double) == Amount("0.010"))
        #expect(Amount(1e-05 as Double) == Amount("0.00001"))
        #expect(Amount(60000.0 as Double) == Amount("60000"))
        #expect(Amount(Double.nan) == nil)
        #expect(try #require(Amount("0.1")).doubleValue == 0.1)
    }

    @Test func codesAsJSONString() throws {
        let data = try JSONEncoder().encode([Amount("0.010")!])
        #expect(String(decoding: data, as: UTF8.self) == #"["0.01"]"#)
        #expect(try JSONDecoder().decode([Amount].self, from: Data(#"["1.50", 2.5]"#.utf8)) == [Amount("1.5")!, Amount("2.5")!])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Amount].self, from: Data(#"["1,5"]"#.utf8)) }
    }
}
