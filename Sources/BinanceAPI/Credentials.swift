import Crypto
import CryptoExtras
import Foundation
import SyncCore

/// An account's API key pair.
public struct Credentials: Sendable, Hashable {
    public var apiKey: String
    public var secret: Secret
    public init(apiKey: String, secret: Secret) {
        self.apiKey = apiKey
        self.secret = secret
    }

    /// The credentials of an `accounts` row: `public_api` and `secret_api`, the secret plaintext or
    /// Fernet ciphertext as the origin app writes it (key in `ACCOUNTS_ENCRYPTION_KEY`). Either may
    /// be overridden from the environment with `ORDERSYNC_ACCOUNT_<id>_API_KEY` / `…_API_SECRET`.
    public static func resolve(_ account: AccountRecord, environment: [String: String]) throws(BinanceError) -> Credentials {
        let prefix = "ORDERSYNC_ACCOUNT_\(account.id.rawValue)_"
        let apiKey = environment[prefix + "API_KEY"] ?? account.apiKey
        guard !apiKey.isEmpty else { throw .credentials("account \(account.id): no API key") }
        if let secret = environment[prefix + "API_SECRET"], !secret.isEmpty {
            return Credentials(apiKey: apiKey, secret: Secret(secret))
        }
        let stored = account.apiSecret.reveal()
        guard !stored.isEmpty else { throw .credentials("account \(account.id): no API secret") }
        guard Fernet.looksLikeToken(stored) else { return Credentials(apiKey: apiKey, secret: account.apiSecret) }
        guard let key = environment["ACCOUNTS_ENCRYPTION_KEY"], !key.isEmpty else {
            throw .credentials("account \(account.id): secret_api is Fernet ciphertext and ACCOUNTS_ENCRYPTION_KEY is not set")
        }
        do {
            let plaintext = try Fernet.decrypt(token: stored, key: key)
            guard let text = String(data: plaintext, encoding: .utf8) else { throw Fernet.Failure.badPlaintext }
            return Credentials(apiKey: apiKey, secret: Secret(text))
        } catch let failure as Fernet.Failure {
            throw .credentials("account \(account.id): secret_api cannot be decrypted (\(failure))")
        } catch {
            throw .credentials("account \(account.id): secret_api cannot be decrypted")
        }
    }
}

/// Fernet (the `cryptography` package's token format): version 0x80, 64-bit timestamp, 128-bit IV,
/// AES-128-CBC ciphertext with PKCS7 padding, HMAC-SHA256 over all of that; URL-safe base64.
/// The key is URL-safe base64 of 32 bytes: signing key, then encryption key.
public enum Fernet {
    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        case badKey, badToken, badVersion, badSignature, badCiphertext, badPlaintext
        public var description: String {
            switch self {
            case .badKey: return "the key is not 32 bytes of URL-safe base64"
            case .badToken: return "the token is not URL-safe base64 of a Fernet token"
            case .badVersion: return "unknown version byte"
            case .badSignature: return "the HMAC does not verify (wrong key or tampered token)"
            case .badCiphertext: return "the ciphertext does not decrypt"
            case .badPlaintext: return "the plaintext is not UTF-8"
            }
        }
    }

    /// Whether a stored value looks like a Fernet token (so plaintext secrets are tolerated).
    public static func looksLikeToken(_ text: String) -> Bool {
        text.hasPrefix("gAAAAA") && text.utf8.count >= 100 && urlSafeBase64(text) != nil
    }

    public static func decrypt(token: String, key: String) throws(Failure) -> Data {
        guard let keyBytes = urlSafeBase64(key), keyBytes.count == 32 else { throw .badKey }
        guard let bytes = urlSafeBase64(token), bytes.count >= 1 + 8 + 16 + 16 + 32, (bytes.count - 57) % 16 == 0 else {
            throw .badToken
        }
        guard bytes[0] == 0x80 else { throw .badVersion }
        let signed = bytes.prefix(bytes.count - 32)
        let mac = bytes.suffix(32)
        let signingKey = SymmetricKey(data: keyBytes.prefix(16))
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: signingKey) else { throw .badSignature }
        let iv = bytes[9..<25]
        let ciphertext = bytes[25..<(bytes.count - 32)]
        do {
            return try AES._CBC.decrypt(ciphertext, using: SymmetricKey(data: keyBytes.suffix(16)), iv: AES._CBC.IV(ivBytes: iv))
        } catch {
            throw .badCiphertext
        }
    }

    /// Decodes URL-safe base64 with or without padding.
    static func urlSafeBase64(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.utf8.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
