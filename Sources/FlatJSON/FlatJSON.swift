/// A fast reader for the one shape that dominates a reconciliation pass: a JSON array of flat
/// objects (Binance's and Upbit's order lists). It keeps only the requested keys, compared as bytes, so it
/// builds no dictionary of every key per object as `JSONDecoder` does — the largest CPU cost of a
/// pass over 50,000 orders. It is strict and conservative: on anything it does not fully
/// understand (nesting in a wanted key, escapes it does not decode, duplicate wanted keys, a
/// malformed document) it returns nil and the caller decodes with `JSONDecoder`, whose answer is
/// then the answer. A differential test holds the two to the same results.
public enum FlatJSON {
    /// A value of a wanted key: its JSON type and text (strings unescaped, numbers verbatim).
    public struct Value: Equatable, Sendable {
        public enum Kind: Equatable, Sendable { case string, number, bool, null }
        public var kind: Kind
        public var text: String
        public init(kind: Kind, text: String) {
            self.kind = kind
            self.text = text
        }
    }

    /// For each object of the top-level array, the values of `keys` in order (nil when absent).
    public static func objects(_ bytes: [UInt8], keys: [String]) -> [[Value?]]? {
        let wanted = keys.map { Array($0.utf8) }
        return bytes.withUnsafeBufferPointer { buffer -> [[Value?]]? in
            var reader = Reader(b: buffer, wanted: wanted)
            return reader.array()
        }
    }

    struct Reader {
        let b: UnsafeBufferPointer<UInt8>
        let wanted: [[UInt8]]
        var i = 0

        init(b: UnsafeBufferPointer<UInt8>, wanted: [[UInt8]]) {
            self.b = b
            self.wanted = wanted
        }

        mutating func space() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func expect(_ c: UInt8) -> Bool {
            space()
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }

        mutating func array() -> [[Value?]]? {
            guard expect(UInt8(ascii: "[")) else { return nil }
            var out: [[Value?]] = []
            space()
            if i < b.count, b[i] == UInt8(ascii: "]") {
                i += 1
                space()
                return i == b.count ? out : nil
            }
            while true {
                guard let object = object() else { return nil }
                out.append(object)
                space()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard b[i] == UInt8(ascii: "]") else { return nil }
                i += 1
                space()
                return i == b.count ? out : nil
            }
        }

        mutating func object() -> [Value?]? {
            guard expect(UInt8(ascii: "{")) else { return nil }
            var values = [Value?](repeating: nil, count: wanted.count)
            space()
            if i < b.count, b[i] == UInt8(ascii: "}") {
                i += 1
                return values
            }
            while true {
                space()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
                let keyStart = i + 1
                guard skipString() else { return nil }
                let keyEnd = i - 1
                guard expect(UInt8(ascii: ":")) else { return nil }
                space()
                // A key with an escape could spell a wanted key: JSONDecoder decides.
                for k in keyStart..<keyEnd where b[k] == UInt8(ascii: "\\") { return nil }
                if let slot = match(keyStart, keyEnd) {
                    guard values[slot] == nil, let value = scalar() else { return nil }  // duplicate or non-scalar: let JSONDecoder decide
                    values[slot] = value
                } else {
                    guard skipValue(depth: 0) else { return nil }
                }
                space()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard b[i] == UInt8(ascii: "}") else { return nil }
                i += 1
                return values
            }
        }

        /// The wanted key whose bytes equal b[start..<end].
        func match(_ start: Int, _ end: Int) -> Int? {
            let length = end - start
            for (slot, key) in wanted.enumerated() where key.count == length {
                var equal = true
                for k in 0..<length where b[start + k] != key[k] {
                    equal = false
                    break
                }
                if equal { return slot }
            }
            return nil
        }

        /// Skips a string starting at `"`; leaves `i` after the closing quote.
        mutating func skipString() -> Bool {
            i += 1
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return true
                }
                if c == UInt8(ascii: "\\") {
                    i += 2
                    continue
                }
                if c < 0x20 { return false }
                i += 1
            }
            return false
        }

        mutating func scalar() -> Value? {
            guard i < b.count else { return nil }
            switch b[i] {
            case UInt8(ascii: "\""):
                let start = i + 1
                guard skipString() else { return nil }
                let slice = UnsafeBufferPointer(rebasing: b[start..<(i - 1)])
                guard !slice.contains(UInt8(ascii: "\\")) else { return nil }  // escapes: JSONDecoder decodes them
                guard let text = String(validating: slice, as: UTF8.self) else { return nil }
                return Value(kind: .string, text: text)
            case UInt8(ascii: "t"): return literal("true", .bool)
            case UInt8(ascii: "f"): return literal("false", .bool)
            case UInt8(ascii: "n"): return literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = i
                while i < b.count, (b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9")) || b[i] == UInt8(ascii: "-") {
                    i += 1
                }
                // Only integers (ids, times): anything with a fraction or exponent goes to JSONDecoder.
                guard i < b.count, b[i] != UInt8(ascii: "."), b[i] != UInt8(ascii: "e"), b[i] != UInt8(ascii: "E") else { return nil }
                return Value(kind: .number, text: String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
            default: return nil
            }
        }

        mutating func literal(_ word: StaticString, _ kind: Value.Kind) -> Value? {
            let n = word.utf8CodeUnitCount
            guard i + n <= b.count else { return nil }
            for k in 0..<n where b[i + k] != word.utf8Start[k] { return nil }
            i += n
            return Value(kind: kind, text: String(describing: word))
        }

        /// Skips any value (nested ones too) of a key that is not wanted.
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < 64, i < b.count else { return false }
            switch b[i] {
            case UInt8(ascii: "\""): return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = b[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                let isObject = close == UInt8(ascii: "}")
                i += 1
                space()
                if i < b.count, b[i] == close {
                    i += 1
                    return true
                }
                while true {
                    space()
                    if isObject {
                        guard i < b.count, b[i] == UInt8(ascii: "\""), skipString(), expect(UInt8(ascii: ":")) else { return false }
                        space()
                    }
                    guard skipValue(depth: depth + 1) else { return false }
                    space()
                    guard i < b.count else { return false }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard b[i] == close else { return false }
                    i += 1
                    return true
                }
            case UInt8(ascii: "t"): return literal("true", .bool) != nil
            case UInt8(ascii: "f"): return literal("false", .bool) != nil
            case UInt8(ascii: "n"): return literal("null", .null) != nil
            default:
                let start = i
                while i < b.count,
                    b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: ".")
                        || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") || (b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9"))
                {
                    i += 1
                }
                // A malformed number in an ignored field: let JSONDecoder judge the document.
                return i > start && Double(String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)) != nil
            }
        }
    }
}

/// A wire type `FlatJSON` can build; `init?(flat:)` accepts exactly what `JSONDecoder` would
/// (types checked) and returns nil otherwise, so the caller falls back to `JSONDecoder`.
public protocol FlatDecodable: Decodable {
    static var flatKeys: [String] { get }
    init?(flat: [FlatJSON.Value?])
}

extension Optional where Wrapped == FlatJSON.Value {
    public var requiredString: String? { if let v = self, v.kind == .string { v.text } else { nil } }
    /// `.some(nil)` for absent or null, `.some(text)` for a string, nil (fall back) for anything else.
    public var optionalString: String?? {
        guard let v = self, v.kind != .null else { return .some(nil) }
        return v.kind == .string ? .some(v.text) : nil
    }
    public var requiredInt: Int64? { if let v = self, v.kind == .number { Int64(v.text) } else { nil } }
    public var optionalInt: Int64?? {
        guard let v = self, v.kind != .null else { return .some(nil) }
        guard v.kind == .number, let n = Int64(v.text) else { return nil }
        return .some(n)
    }
}
