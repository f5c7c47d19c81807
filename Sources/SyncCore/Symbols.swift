/// One spelling-independent key per trading pair, so that the origin's DB form (`BTC/USDT`,
/// `BTC/KRW`), the forms venues use (`BTCUSDT`; `KRW-BTC`, quote first) of the same pair compare
/// equal everywhere: reconcile, cancel selection, webhook filters, claims.
///
/// The key is base then quote with no separator, upper case; each venue spells it its own way on
/// the wire.
public enum SymbolKey {
    /// The key of any spelling: `BASE/QUOTE` → `BASEQUOTE`; `QUOTE-BASE` → `BASEQUOTE`; otherwise
    /// upper-cased as written.
    public static func of(_ text: String) -> String {
        // ASCII (every symbol any venue spells): byte by byte — `uppercased()`, `filter` and two
        // substrings per call were a thirtieth of a pass over a venue whose rows say `BTC/KRW`.
        var bytes: [UInt8] = []
        var slash: Int?
        var dash: Int?
        var changed = false
        for b in text.utf8 {
            if b >= 0x80 { return ofUnicode(text) }
            switch b {
            case 32: changed = true
            case UInt8(ascii: "/"):
                changed = true
                if slash == nil { slash = bytes.count }
                bytes.append(b)
            case UInt8(ascii: "-"):
                changed = true
                if dash == nil { dash = bytes.count }
                bytes.append(b)
            case 97...122:
                changed = true
                bytes.append(b - 32)
            default: bytes.append(b)
            }
        }
        if !changed { return text }
        if let slash {
            bytes.remove(at: slash)
        } else if let dash {
            bytes = Array(bytes[(dash + 1)...] + bytes[..<dash])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `of` for any text (Unicode upper-casing); the ASCII path above gives the same answers.
    static func ofUnicode(_ text: String) -> String {
        let upper = text.uppercased().filter { $0 != " " }
        if let slash = upper.firstIndex(of: "/") {
            return String(upper[..<slash]) + String(upper[upper.index(after: slash)...])
        }
        if let dash = upper.firstIndex(of: "-") {
            return String(upper[upper.index(after: dash)...]) + String(upper[..<dash])
        }
        return upper
    }

    /// Quote assets by which an exchange symbol without a separator is split (longest first).
    static let quotes = [
        "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "DAI", "KRW", "EUR", "TRY", "BRL", "JPY", "GBP", "AUD",
        "BTC", "ETH", "BNB", "XRP", "TRX", "DOGE",
    ]

    /// `BTCUSDT` → `BTC/USDT` (the origin's form), when a known quote asset ends it; nil otherwise.
    public static func slashed(_ text: String) -> String? {
        let key = of(text)
        for quote in quotes where key.hasSuffix(quote) && key.count > quote.count {
            return String(key.dropLast(quote.count)) + "/" + quote
        }
        return nil
    }

    /// How a row ordersync writes spells its symbol: the spelling the link's rows already use for
    /// that pair; else the form the link's rows use (slash or not); else `BASE/QUOTE`.
    public static func dbForm(of exchangeSymbol: String, linkSymbols: [String]) -> String {
        let key = of(exchangeSymbol)
        if let same = linkSymbols.first(where: { of($0) == key }) { return same }
        if !linkSymbols.isEmpty && !linkSymbols.contains(where: { $0.contains("/") }) { return exchangeSymbol }
        return slashed(exchangeSymbol) ?? exchangeSymbol
    }
}
