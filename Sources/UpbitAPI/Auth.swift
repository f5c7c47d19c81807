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

    /// The claims, in the order the header's JSON is written (sorted keys, so the token is stable).
    struct Claims: Encodable {
        var access_key: String
        var nonce: String
        var query_hash: String?
        var query_hash_alg: String?
        var timestamp: Int64?
    }

    /// `Bearer <token>` for a request whose query string (or, for a JSON body, its `k=v&…` form) is
    /// `query` (empty: no parameters). `timestamp`: Bithumb's claim (ms).
    public static func authorization(
        accessKey: String,
        secret: Secret,
        query: String,
        nonce: String = UUID().uuidString.lowercased(),
        timestamp: Millis? = nil,
        algorithm: Algorithm = .hs512
    ) -> String {
        var claims = Claims(access_key: accessKey, nonce: nonce, timestamp: timestamp)
        if !query.isEmpty {
            claims.query_hash = hex(SHA512.hash(data: Data(query.utf8)))
            claims.query_hash_alg = "SHA512"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = #"{"alg":"\#(algorithm.rawValue)","typ":"JWT"}"#
        let payload = (try? encoder.encode(claims)) ?? Data("{}".utf8)
        let signingInput = base64URL(Data(header.utf8)) + "." + base64URL(payload)
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
        var text = data.base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
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
