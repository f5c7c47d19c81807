/// Calendar arithmetic for UTC timestamps, without a clock or a locale.
public enum UTC {
    /// `2026-11-25T13:38:26.123Z`.
    public static func iso8601(_ ms: Millis) -> String {
        let (date, time, millis) = split(ms)
        return "\(date)T\(time).\(pad(millis, 3))Z"
    }

    /// `2026-11-25 13:38:26.123000`, the form SQLAlchemy writes into SQLite `DATETIME` columns.
    public static func sqlDateTime(_ ms: Millis) -> String {
        let (date, time, millis) = split(ms)
        return "\(date) \(time).\(pad(millis, 3))000"
    }

    /// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|+00:00]` (taken as UTC) and `YYYY-MM-DD`.
    public static func parse(_ text: String) -> Millis? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 10, let y = num(0, 4), b[4] == UInt8(ascii: "-"), let mo = num(5, 2),
            b[7] == UInt8(ascii: "-"), let d = num(8, 2), (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        var seconds = daysFromCivil(y, mo, d) * 86_400
        var millis = 0
        var i = 10
        if b.count > 10 {
            guard b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T"), let h = num(11, 2),
                b.count > 13, b[13] == UInt8(ascii: ":"), let mi = num(14, 2),
                b.count > 16, b[16] == UInt8(ascii: ":"), let s = num(17, 2), h < 24, mi < 60, s < 61
            else { return nil }
            seconds += h * 3600 + mi * 60 + s
            i = 19
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                var digits = 0
                while i < b.count, b[i] >= 48 && b[i] <= 57 {
                    if digits < 3 { millis = millis * 10 + Int(b[i] - 48) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                if digits < 3 { for _ in digits..<3 { millis *= 10 } }
            }
            let rest = String(decoding: b[i...], as: UTF8.self)
            guard ["", "Z", "+00:00", "+0000"].contains(rest) else { return nil }
        }
        return Millis(seconds) * 1000 + Millis(millis)
    }

    private static func split(_ ms: Millis) -> (String, String, Int) {
        let seconds = Int(ms.floorDiv(1000))
        let millis = Int(ms - Millis(seconds) * 1000)
        let days = seconds.floorDiv(86_400)
        let secOfDay = seconds - days * 86_400
        let (y, m, d) = civilFromDays(days)
        let date = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
        let time = "\(pad(secOfDay / 3600, 2)):\(pad(secOfDay % 3600 / 60, 2)):\(pad(secOfDay % 60, 2))"
        return (date, time, millis)
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's days-from-civil algorithms.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = y.floorDiv(400)
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = z.floorDiv(146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension BinaryInteger {
    func floorDiv(_ divisor: Self) -> Self {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
