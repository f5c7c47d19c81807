/// The client's one error type. `description` names the endpoint and the exchange's code and
/// message, never a secret, signature or signed URL; `label` is fit for a metric.
public struct BinanceError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Bad or unknown API key, bad signature (-2014, -2015, -1022, HTTP 401).
        case authentication
        /// HTTP 429: the host is paused until `retryAfter`.
        case rateLimited = "rate_limited"
        /// HTTP 418: the IP is banned until `until`.
        case banned
        /// The exchange does not know the order (-2013, or -2011 followed by -2013).
        case notFound = "not_found"
        /// The exchange refused the request (other 4xx codes).
        case rejected
        /// The request may or may not have been applied (5xx, -1007, 503 "Unknown error", a
        /// connection lost after sending), and a query could not settle it.
        case unknownOutcome = "unknown_outcome"
        /// Nothing was sent, or nothing came back (connect failure, deadline).
        case transport
        /// The response could not be read.
        case decoding
        /// The account's credentials are missing or cannot be decrypted.
        case credentials
    }

    public let kind: Kind
    /// The exchange's error code, when it sent one.
    public let code: Int?
    public let message: String
    /// For `.rateLimited` and `.banned`: when the host may be used again (ms).
    public let until: Int64?

    init(_ kind: Kind, code: Int? = nil, _ message: String, until: Int64? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.until = until
    }

    public var label: String { kind.rawValue }
    public var description: String {
        var text = "\(kind.rawValue)"
        if let code { text += " \(code)" }
        return text + ": " + message
    }

    static func credentials(_ message: String) -> BinanceError { BinanceError(.credentials, message) }
}
