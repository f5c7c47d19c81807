import Crypto
import CryptoExtras
import Foundation
import SyncCore
import Synchronization

/// Why an account's keys cannot be used (names the account and column, never a key or a value).
public struct CredentialError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// An account's API key pair, whatever its exchange: the origin app stores every exchange's keys in
/// `accounts` the same way, so they are resolved here once, outside any one client.
public struct Credentials: Sendable, Hashable {
    public var apiKey: String
    public var secret: Secret
    public init(apiKey: String, secret: Secret) {
        self.apiKey = apiKey
        self.secret = secret
    }

    /// The credentials of an `accounts` row, decrypted by the origin app's own rules: `public_api`
    /// and `secret_api` are Fernet ciphertext (or plaintext, tolerated) under the key
    /// `OriginKey.derive(environment:)` gives. Either may be overridden from the environment with
    /// `ORDERSYNC_ACCOUNT_<id>_API_KEY` / `…_API_SECRET`. Errors never show a key or a value.
    public static func resolve(_ account: AccountRecord, environment: [String: String]) throws(CredentialError) -> Credentials {
        let prefix = "ORDERSYNC_ACCOUNT_\(account.id.rawValue)_"
        let key = OriginKey.derive(environment: environment)
        func column(_ stored: String, _ name: String, override: String) throws(CredentialError) -> String {
            if let value = environment[prefix + override], !value.isEmpty { return value }
            guard !stored.isEmpty else { throw CredentialError("account \(account.id): \(name) is empty") }
            guard Fernet.looksLikeToken(stored) else { return stored }
            do {
                let plaintext = try Fernet.decrypt(token: stored, key: key.value)
                guard let text = String(data: plaintext, encoding: .utf8) else { throw Fernet.Failure.badPlaintext }
                return text
            } catch {
                throw CredentialError("account \(account.id): \(name) is Fernet ciphertext that does not decrypt with \(key.source) (\(error))")
            }
        }
        let apiKey = try column(account.apiKey, "public_api", override: "API_KEY")
        let secret = try column(account.apiSecret.reveal(), "secret_api", override: "API_SECRET")
        return Credentials(apiKey: apiKey, secret: Secret(secret))
    }

    /// Why the account's stored keys cannot be used (never a key or a value), or nil: every venue's
    /// `credentialsProblem`.
    public static func problem(_ account: AccountRecord, environment: [String: String]) -> String? {
        do {
            _ = try resolve(account, environment: environment)
            return nil
        } catch {
            return error.description
        }
    }
}

/// The origin app's Fernet key for `accounts` (its `security/encryption.py`): `ACCOUNTS_ENCRYPTION_KEY`
/// as-is when it is a Fernet key (URL-safe base64 of 32 bytes), otherwise
/// `urlsafe_b64encode(sha256(value))`; when unset, `urlsafe_b64encode(sha256(SECRET_KEY))`, the
/// origin's default `SECRET_KEY` being `dev-secret-key-change-in-production`.
public struct OriginKey: Sendable, CustomStringConvertible {
    /// The Fernet key (never printed).
    let value: String
    /// Which setting it came from, for messages (`ACCOUNTS_ENCRYPTION_KEY`, `SECRET_KEY`, or the default).
    public let source: String

    public static let defaultSecretKey = "dev-secret-key-change-in-production"

    public static func derive(environment: [String: String]) -> OriginKey {
        if let configured = environment["ACCOUNTS_ENCRYPTION_KEY"], !configured.isEmpty {
            if Fernet.urlSafeBase64(configured)?.count == 32 { return OriginKey(value: configured, source: "ACCOUNTS_ENCRYPTION_KEY") }
            return OriginKey(value: hashed(configured), source: "the key derived from ACCOUNTS_ENCRYPTION_KEY")
        }
        if let secret = environment["SECRET_KEY"], !secret.isEmpty {
            return OriginKey(value: hashed(secret), source: "the key derived from SECRET_KEY")
        }
        return OriginKey(value: hashed(defaultSecretKey), source: "the key derived from the origin's default SECRET_KEY")
    }

    static func hashed(_ text: String) -> String {
        Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
            of: "/",
            with: "_"
        )
    }

    public var description: String { "<origin key from \(source)>" }
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

/// Credentials resolved once per account (the origin's key derived, the Fernet tokens decrypted),
/// not once per request: a fan-out sends two hundred. Keyed by the stored values, so a row whose
/// keys change is resolved again. Only in memory; never printed (`Secret`).
public final class CredentialCache: Sendable {
    private struct Entry {
        var apiKey: String
        var apiSecret: String
        var credentials: Credentials
    }
    private let entries = Mutex<[AccountID: Entry]>([:])

    public init() {}

    public func resolve(_ account: AccountRecord, environment: [String: String]) throws(CredentialError) -> Credentials {
        let secret = account.apiSecret.reveal()
        if let entry = entries.withLock({ $0[account.id] }), entry.apiKey == account.apiKey, entry.apiSecret == secret {
            return entry.credentials
        }
        let resolved = try Credentials.resolve(account, environment: environment)
        entries.withLock { $0[account.id] = Entry(apiKey: account.apiKey, apiSecret: secret, credentials: resolved) }
        return resolved
    }
}
