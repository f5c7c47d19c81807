import Crypto
import Foundation
import SyncCore

/// Upbit's request authentication (and Bithumb API 2.0's, which adds a `timestamp` claim): a JWT in
/// `Authorization: Bearer`, signed with the secret key as it is (not base64-decoded), carrying the
/// `access_key`, a fresh `nonce` per request and, when the request has parameters, `query_hash` — the
/// hex SHA-512 of the query string exactly as sent — with `query_hash_alg`.
///
/// Written here rather than taken from a JWT library: the one in the package mirror (jwt-kit) brings
/// certificates and key types for a token that is one HMAC over two small JSON objects.
public enum UpbitAuth {
    public enum Algorithm: String, Sendable {
        case hs256 = "HS256"
        case hs512 = "HS512"
    }

    /// `Bearer <token>` for a request whose query string (or, for a JSON body, its `k=v&…` form) is
    /// `query` (empty: no parameters). `timestamp`: Bithumb's claim (ms).
    public static func authorization(
        accessKey: String,
        secret: Secret,
        query: String,
        nonce: String = UpbitAuth.nonce(),
        timestamp: Millis? = nil,
        algorithm: Algorithm = .hs512
    ) -> String {
        // The claims in sorted key order, written by hand (a JSONEncoder per request was a tenth of
        // a pass's CPU); the access key is the one value that needs JSON escaping.
        var payload = #"{"access_key":"# + quoted(accessKey) + #","nonce":"# + quoted(nonce)
        if !query.isEmpty {
            payload += #","query_hash":""# + hex(SHA512.hash(data: Data(query.utf8))) + #"","query_hash_alg":"SHA512""#
        }
        if let timestamp { payload += #","timestamp":"# + String(timestamp) }
        payload += "}"
        let header = #"{"alg":"\#(algorithm.rawValue)","typ":"JWT"}"#
        let signingInput = base64URL(Data(header.utf8)) + "." + base64URL(Data(payload.utf8))
        let key = SymmetricKey(data: Data(secret.reveal().utf8))
        let signature: Data =
            switch algorithm {
            case .hs256: Data(HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key))
            case .hs512: Data(HMAC<SHA512>.authenticationCode(for: Data(signingInput.utf8), using: key))
            }
        return "Bearer " + signingInput + "." + base64URL(signature)
    }

    /// Unpadded URL-safe base64 (RFC 7515 §2).
    static func base64URL(_ data: Data) -> String {
        var bytes = Array(data.base64EncodedString().utf8)
        while bytes.last == UInt8(ascii: "=") { bytes.removeLast() }
        for i in bytes.indices {
            if bytes[i] == UInt8(ascii: "+") { bytes[i] = UInt8(ascii: "-") } else if bytes[i] == UInt8(ascii: "/") { bytes[i] = UInt8(ascii: "_") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A fresh nonce: a random (version 4) UUID in lower case, as Upbit's examples send it — its
    /// 122 bits from the system's generator, written without Foundation's `UUID` (a fiftieth of a
    /// pass's CPU).
    public static func nonce() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { Array($0) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let text = hex(bytes)
        var out = ""
        out.reserveCapacity(36)
        for (i, c) in text.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append("-") }
            out.append(c)
        }
        return out
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
