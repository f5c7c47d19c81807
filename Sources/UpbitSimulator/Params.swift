import Foundation

/// A request's parameters in the order received, repeated keys kept (`states[]=wait&states[]=watch`).
package struct Params: Sendable {
    let pairs: [(String, String)]

    init(_ pairs: [(String, String)]) { self.pairs = pairs }

    /// From a raw query string (percent-decoded, `+` as a space).
    init(query: String) {
        pairs = query.split(separator: "&").map { part in
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    package func first(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }
    package func all(_ key: String) -> [String] { pairs.filter { $0.0 == key }.map(\.1) }

    /// The orders a request names, either all by the exchange's id (`ids`) or all by the client's
    /// (`clientIDs`), never both, at most `limit`: each as the lookup `UpbitExchange` takes.
    /// `names` is how the refusal calls the two parameters.
    package func named(ids: String, clientIDs: String, limit: Int, names: String) throws -> [(uuid: String?, identifier: String?)] {
        let byID = all(ids)
        let byClient = all(clientIDs)
        guard byID.isEmpty != byClient.isEmpty else { throw UpbitAPIError.validation("\(names), not both") }
        guard byID.count + byClient.count <= limit else { throw UpbitAPIError.validation("at most \(limit) orders") }
        return byID.isEmpty ? byClient.map { (nil, $0) } : byID.map { ($0, nil) }
    }
}

/// The keys and values of a flat JSON object (strings, numbers, booleans) in the order written —
/// what a POST's `query_hash` is computed over (`k=v&…` in body order).
package enum FlatObject {
    package static func pairs(_ bytes: [UInt8]) -> [(String, String)]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        // The order: each key's first position in the text (keys are unique in a JSON object the
        // simulator accepts, and a key's quoted form cannot occur inside a value before the key).
        let text = String(decoding: bytes, as: UTF8.self)
        var ordered: [(Int, String, String, Int)] = []
        for (key, value) in object {
            func render(_ value: Any) -> String? {
                switch value {
                case let s as String: return s
                case let n as NSNumber: return n.stringValue
                default: return nil
                }
            }
            guard let range = text.range(of: "\"\(key)\"") else { return nil }
            let position = text.distance(from: text.startIndex, to: range.lowerBound)
            // An array of strings is the repeated `key[]` (Bithumb's `order_ids`).
            if let array = value as? [Any] {
                for (i, item) in array.enumerated() {
                    guard let rendered = render(item) else { return nil }
                    ordered.append((position, key + "[]", rendered, i))
                }
            } else {
                guard let rendered = render(value) else { return nil }
                ordered.append((position, key, rendered, 0))
            }
        }
        return ordered.sorted { ($0.0, $0.3) < ($1.0, $1.3) }.map { ($0.1, $0.2) }
    }
}
