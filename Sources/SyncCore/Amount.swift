/// An exact decimal amount (price or quantity), parsed from the exchange's strings.
///
/// Stored as `significand × 10^exponent` with trailing zeros removed, so equal values are equal
/// however they were written: `"0.010" == "0.01"`, `"1e-2" == "0.01"`. Up to 18 significant
/// digits are held exactly; more are rejected rather than rounded. Never compared as `Double`.
public struct Amount: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The digits, with trailing zeros removed (zero is `0 × 10^0`).
    public let significand: Int64
    /// The power of ten the significand is scaled by.
    public let exponent: Int16

    public static let zero = Amount(normalizing: 0, exponent: 0)
    static let maxDigits = 18
    static let maxExponent = 300

    private init(normalizing significand: Int64, exponent: Int) {
        var s = significand
        var e = exponent
        if s == 0 {
            e = 0
        } else {
            while s % 10 == 0 {
                s /= 10
                e += 1
            }
        }
        self.significand = s
        self.exponent = Int16(e)
    }

    /// An integer amount.
    public init(_ integer: Int64) {
        precondition(integer.magnitude < 1_000_000_000_000_000_000, "Amount holds 18 digits")
        self.init(normalizing: integer, exponent: 0)
    }

    /// Parses a decimal string: an optional sign, digits with an optional fraction, an optional
    /// exponent (`1e-05`, as a `Double` prints). Returns nil for anything else (empty, spaces,
    /// `nan`, `1,5`, more than 18 significant digits).
    public init?(_ text: some StringProtocol) {
        var digits: [UInt8] = []
        digits.reserveCapacity(24)
        var negative = false
        var fractionDigits = 0
        var sawDigit = false
        var sawPoint = false
        var exponent = 0
        var bytes = text.utf8.makeIterator()
        var next = bytes.next()
        if next == UInt8(ascii: "-") || next == UInt8(ascii: "+") {
            negative = next == UInt8(ascii: "-")
            next = bytes.next()
        }
        while let byte = next {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                sawDigit = true
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) { digits.append(byte - UInt8(ascii: "0")) }
                if sawPoint { fractionDigits += 1 }
            } else if byte == UInt8(ascii: ".") && !sawPoint {
                sawPoint = true
            } else {
                break
            }
            next = bytes.next()
        }
        guard sawDigit else { return nil }
        if let marker = next {
            guard marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") else { return nil }
            var expNegative = false
            var expDigits = 0
            var value = 0
            next = bytes.next()
            if next == UInt8(ascii: "-") || next == UInt8(ascii: "+") {
                expNegative = next == UInt8(ascii: "-")
                next = bytes.next()
            }
            while let byte = next {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                expDigits += 1
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                guard value <= 10_000 else { return nil }
                next = bytes.next()
            }
            guard expDigits > 0 else { return nil }
            exponent = expNegative ? -value : value
        }
        // Leading zeros were skipped while reading; strip trailing zeros into the exponent.
        var scale = exponent - fractionDigits
        while let last = digits.last, last == 0 {
            digits.removeLast()
            scale += 1
        }
        if digits.isEmpty {
            self = .zero
            return
        }
        guard digits.count <= Self.maxDigits else { return nil }
        guard abs(scale) <= Self.maxExponent else { return nil }
        var value: Int64 = 0
        for d in digits { value = value * 10 + Int64(d) }
        self.init(normalizing: negative ? -value : value, exponent: scale)
    }

    /// The exact decimal value of a `Double` as it prints (its shortest round-trip form), for
    /// amounts the origin app stored as floats. Nil for NaN and infinities.
    public init?(_ double: Double) {
        guard double.isFinite else { return nil }
        self.init(double.description)
    }

    /// The nearest `Double`, for writing to the origin app's float columns.
    public var doubleValue: Double { Double(description) ?? .nan }

    public var isZero: Bool { significand == 0 }
    public var isNegative: Bool { significand < 0 }

    /// Plain decimal notation without exponent or trailing zeros: `"0.01"`, `"50000"`, `"-3.5"`.
    public var description: String {
        if significand == 0 { return "0" }
        let digits = String(significand.magnitude)
        let sign = significand < 0 ? "-" : ""
        let e = Int(exponent)
        if e >= 0 { return sign + digits + String(repeating: "0", count: e) }
        let fraction = -e
        if fraction >= digits.count {
            return sign + "0." + String(repeating: "0", count: fraction - digits.count) + digits
        }
        let split = digits.index(digits.endIndex, offsetBy: -fraction)
        return sign + digits[..<split] + "." + digits[split...]
    }

    private static func digitCount(_ v: UInt64) -> Int {
        var n = 1
        var x = v
        while x >= 10 {
            x /= 10
            n += 1
        }
        return n
    }

    private static func compareMagnitude(_ a: Amount, _ b: Amount) -> Int {
        let ma = a.significand.magnitude
        let mb = b.significand.magnitude
        if ma == 0 || mb == 0 { return ma == mb ? 0 : (ma == 0 ? -1 : 1) }
        let da = digitCount(ma)
        let db = digitCount(mb)
        let adjA = Int(a.exponent) + da
        let adjB = Int(b.exponent) + db
        if adjA != adjB { return adjA < adjB ? -1 : 1 }
        // Same order of magnitude: scale the shorter one up; both fit in 18 digits.
        var xa = ma
        var xb = mb
        if da < db { for _ in 0..<(db - da) { xa *= 10 } } else { for _ in 0..<(da - db) { xb *= 10 } }
        return xa == xb ? 0 : (xa < xb ? -1 : 1)
    }

    public static func < (lhs: Amount, rhs: Amount) -> Bool {
        switch (lhs.isNegative, rhs.isNegative) {
        case (true, false): return true
        case (false, true): return false
        case (false, false): return compareMagnitude(lhs, rhs) < 0
        case (true, true): return compareMagnitude(lhs, rhs) > 0
        }
    }

    /// Decodes from a JSON string (preferred, exact) or a JSON number.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = Amount(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "not a decimal amount: \"\(text)\""
                )
            }
            self = value
        } else {
            let number = try container.decode(Double.self)
            guard let value = Amount(number) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a finite amount")
            }
            self = value
        }
    }

    /// Encodes as a JSON string, as the exchange does.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Amount {
    /// The two significands at a common exponent, or nil if scaling would overflow.
    private static func aligned(_ a: Amount, _ b: Amount) -> (Int64, Int64, Int)? {
        let e = min(Int(a.exponent), Int(b.exponent))
        func scale(_ x: Amount) -> Int64? {
            var s = x.significand
            for _ in 0..<(Int(x.exponent) - e) {
                let (r, o) = s.multipliedReportingOverflow(by: 10)
                if o { return nil }
                s = r
            }
            return s
        }
        guard let sa = scale(a), let sb = scale(b) else { return nil }
        return (sa, sb, e)
    }

    /// The exact sum, or nil when it does not fit in 18 digits.
    public func adding(_ other: Amount) -> Amount? {
        guard let (a, b, e) = Self.aligned(self, other) else { return nil }
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { return nil }
        return Amount("\(sum)e\(e)")
    }

    /// The exact difference, or nil when it does not fit in 18 digits.
    public func subtracting(_ other: Amount) -> Amount? {
        guard let (a, b, e) = Self.aligned(self, other) else { return nil }
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        guard !overflow else { return nil }
        return Amount("\(difference)e\(e)")
    }

    /// Whether this is a whole multiple of `step` (a tick or lot size). False for a zero step.
    public func isMultiple(of step: Amount) -> Bool {
        guard !step.isZero, let (a, b, _) = Self.aligned(self, step) else { return false }
        return a % b == 0
    }

    /// At least `decimals` decimals, padded with zeros (`"0.40"`, `"1.00000000"`); never rounded.
    public func padded(decimals: Int) -> String {
        let text = description
        let have = text.firstIndex(of: ".").map { text.distance(from: $0, to: text.endIndex) - 1 } ?? 0
        guard have < decimals else { return text }
        return text + (have == 0 ? "." : "") + String(repeating: "0", count: decimals - have)
    }
}
