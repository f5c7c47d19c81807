import Foundation
import Testing

@testable import SyncCore

/// `SymbolKey.of` reads ASCII byte by byte; Unicode text takes the upper-casing path. Both must
/// give one key per pair however a venue or the origin spells it.
@Suite struct SymbolKeyTests {
    @Test func everySpellingOfAPairIsOneKey() {
        for spelling in ["BTC/KRW", "btc/krw", "KRW-BTC", "krw-btc", "BTCKRW", " BTC / KRW ", "Btc/Krw"] {
            #expect(SymbolKey.of(spelling) == "BTCKRW", "\(spelling)")
        }
        #expect(SymbolKey.of("BTCUSDT") == "BTCUSDT")
        #expect(SymbolKey.of("1000PEPE/USDT") == "1000PEPEUSDT")
        #expect(SymbolKey.of("A-B/C") == "A-BC")  // a slash wins over an earlier dash
        #expect(SymbolKey.of("") == "")
        #expect(SymbolKey.of("ß/krw") == SymbolKey.ofUnicode("ß/krw") && SymbolKey.of("ß/krw") == "SSKRW")
    }

    /// Random texts over the bytes that matter (letters of both cases, digits, `/`, `-`, spaces,
    /// and now and then a non-ASCII letter): the byte path agrees with the Unicode one.
    @Test func theBytePathAgreesWithUpperCasing() {
        let seed = SeededGenerator.seed(fallback: 20_261_202, environment: ProcessInfo.processInfo.environment)
        print("SymbolKeyTests.theBytePathAgreesWithUpperCasing: seed \(seed), 20000 texts")
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("abcxyzABCXYZ019/- _.")
        for _ in 0..<20_000 {
            var text = String((0..<Int.random(in: 0...10, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            if Int.random(in: 0..<20, using: &rng) == 0 { text += ["é", "한", "ß"].randomElement(using: &rng)! }
            #expect(SymbolKey.of(text) == SymbolKey.ofUnicode(text), "\(text) (seed \(seed))")
        }
    }
}
