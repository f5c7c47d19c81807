import SyncCore

/// Finds where a JSON document first breaks the grammar, because Foundation's decoder reports
/// only "not valid JSON". Used to name the line and column in file errors.
public enum JSONSyntax {
    /// A syntax error at a 1-based line and column.
    public struct Location: Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var message: String
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    /// The first syntax error in `bytes`, or nil when the document is well-formed JSON.
    public static func firstError(in bytes: [UInt8]) -> Location? {
        var scanner = Scanner(bytes: bytes)
        do throws(Failure) {
            scanner.skipSpace()
            try scanner.value(depth: 0)
            scanner.skipSpace()
            if scanner.index < bytes.count { throw scanner.fail("unexpected text after the document") }
            return nil
        } catch {
            return error.location
        }
    }

    struct Failure: Error { var location: Location }

    struct Scanner {
        let bytes: [UInt8]
        var index = 0

        func fail(_ message: String) -> Failure {
            var line = 1
            var column = 1
            for b in bytes[..<min(index, bytes.count)] {
                if b == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if b & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return Failure(location: Location(line: line, column: column, message: message))
        }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
        }

        mutating func expect(_ c: Character) throws(Failure) {
            guard peek == c.asciiValue else {
                throw fail(peek == nil ? "unexpected end of file, expected '\(c)'" : "expected '\(c)'")
            }
            index += 1
        }

        mutating func value(depth: Int) throws(Failure) {
            guard depth < 512 else { throw fail("nested too deeply") }
            guard let b = peek else { throw fail("unexpected end of file, expected a value") }
            switch b {
            case UInt8(ascii: "{"):
                index += 1
                skipSpace()
                if peek == UInt8(ascii: "}") {
                    index += 1
                    return
                }
                while true {
                    skipSpace()
                    guard peek == UInt8(ascii: "\"") else {
                        throw fail(peek == nil ? "unexpected end of file in an object" : "expected a quoted key")
                    }
                    try string()
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    try value(depth: depth + 1)
                    skipSpace()
                    if peek == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if peek == UInt8(ascii: "}") {
                        index += 1
                        return
                    }
                    throw fail(peek == nil ? "unexpected end of file in an object" : "expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                index += 1
                skipSpace()
                if peek == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                while true {
                    skipSpace()
                    try value(depth: depth + 1)
                    skipSpace()
                    if peek == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if peek == UInt8(ascii: "]") {
                        index += 1
                        return
                    }
                    throw fail(peek == nil ? "unexpected end of file in an array" : "expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                try string()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try number()
            default:
                for word in ["true", "false", "null"] where bytes[index...].starts(with: word.utf8) {
                    index += word.utf8.count
                    return
                }
                throw fail("expected a value")
            }
        }

        mutating func string() throws(Failure) {
            index += 1
            while let b = peek {
                index += 1
                if b == UInt8(ascii: "\"") { return }
                if b < 0x20 {
                    index -= 1
                    throw fail("control character in a string")
                }
                if b == UInt8(ascii: "\\") {
                    guard let e = peek else { break }
                    index += 1
                    if e == UInt8(ascii: "u") {
                        for _ in 0..<4 {
                            guard let h = peek, (h >= 48 && h <= 57) || (h | 0x20 >= 97 && h | 0x20 <= 102) else { throw fail("bad \\u escape") }
                            index += 1
                        }
                    } else if !"\"\\/bfnrt".utf8.contains(e) {
                        index -= 1
                        throw fail("bad escape")
                    }
                }
            }
            throw fail("unexpected end of file in a string")
        }

        mutating func number() throws(Failure) {
            if peek == UInt8(ascii: "-") { index += 1 }
            func digits(_ s: inout Scanner) -> Int {
                var n = 0
                while let b = s.peek, b >= 48 && b <= 57 {
                    s.index += 1
                    n += 1
                }
                return n
            }
            guard digits(&self) > 0 else { throw fail("expected digits") }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw fail("expected digits after '.'") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw fail("expected exponent digits") }
            }
        }
    }
}
