import HTTPTypes

/// A Binance error response: HTTP status, `code` and `msg` as the real exchange sends them.
public struct APIError: Error, Hashable, Sendable {
    public var status: HTTPResponse.Status
    public var code: Int
    public var msg: String
    /// Seconds, for 429 and 418.
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: Int, _ msg: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.msg = msg
        self.retryAfter = retryAfter
    }

    static let unknown = APIError(.internalServerError, -1000, "An unknown error occurred while processing the request.")
    static func tooManyRequests(limit: Int, interval: String, retryAfter: Int) -> APIError {
        APIError(
            .tooManyRequests,
            -1003,
            "Too much request weight used; current limit is \(limit) request weight per \(interval). Please use WebSocket Streams for live updates to avoid polling the API.",
            retryAfter: retryAfter
        )
    }
    static func banned(until: Int64, retryAfter: Int) -> APIError {
        APIError(
            HTTPResponse.Status(code: 418, reasonPhrase: "I'm a teapot"),
            -1003,
            "Way too much request weight used; IP banned until \(until). Please use WebSocket Streams for live updates to avoid bans.",
            retryAfter: retryAfter
        )
    }
    static let timeout = APIError(
        .internalServerError,
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
    )
    static let unknownFutures = APIError(.serviceUnavailable, -1000, "Unknown error, please check your request or try again later.")
    static let serviceUnavailable = APIError(.serviceUnavailable, -1001, "Service Unavailable.")
    static let timestampAhead = APIError(.badRequest, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    static let timestampOutside = APIError(.badRequest, -1021, "Timestamp for this request is outside of the recvWindow.")
    static let badSignature = APIError(.badRequest, -1022, "Signature for this request is not valid.")
    static let mandatory = APIError(.badRequest, -1102, "A mandatory parameter was not sent, was empty/null, or malformed.")
    static func mandatory(_ name: String) -> APIError {
        APIError(.badRequest, -1102, "Mandatory parameter '\(name)' was not sent, was empty/null, or malformed.")
    }
    static func eitherParam(_ a: String, _ b: String) -> APIError {
        APIError(.badRequest, -1102, "Param '\(a)' or '\(b)' must be sent, but both were empty/null!")
    }
    static func illegalChars(_ name: String, _ range: String) -> APIError {
        APIError(.badRequest, -1100, "Illegal characters found in parameter '\(name)'; legal range is '\(range)'.")
    }
    static func invalidParam(_ name: String) -> APIError {
        APIError(.badRequest, -1130, "Data sent for parameter '\(name)' is not valid.")
    }
    static let invalidSymbol = APIError(.badRequest, -1121, "Invalid symbol.")
    static let invalidListenKey = APIError(.badRequest, -1125, "This listenKey does not exist.")
    static let recvWindowTooLarge = APIError(.badRequest, -1131, "recvWindow must be less than 60000")
    static func invalidEnum(_ message: String) -> APIError { APIError(.badRequest, -1116, message) }
    static let duplicateSpot = APIError(.badRequest, -2010, "Duplicate order sent.")
    static let wouldMatch = APIError(.badRequest, -2010, "Order would immediately match and take.")
    static let duplicateFutures = APIError(.badRequest, -4116, "clientOrderId is duplicated")
    static let unknownOrder = APIError(.badRequest, -2011, "Unknown order sent.")
    static let noSuchOrder = APIError(.badRequest, -2013, "Order does not exist.")
    static let badAPIKeyFormat = APIError(.unauthorized, -2014, "API-key format invalid.")
    static let invalidAPIKey = APIError(.unauthorized, -2015, "Invalid API-key, IP, or permissions for action.")
    static let algoOnly = APIError(.badRequest, -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
    static let invalidClientOrderIDFutures = APIError(.badRequest, -4015, "Client order id is not valid.")
    static func filterFailure(_ filter: String) -> APIError { APIError(.badRequest, -1013, "Filter failure: \(filter)") }
    static let tickSize = APIError(.badRequest, -4014, "Price not increased by tick size.")
    static let stepSize = APIError(.badRequest, -4023, "Quantity not increased by step size.")
    static func minNotional(_ notional: String) -> APIError {
        APIError(.badRequest, -4164, "Order's notional must be no smaller than \(notional) (unless you choose reduce only).")
    }
    static let notFound = APIError(.notFound, -1, "Not Found")
    static let payloadTooLarge = APIError(.contentTooLarge, -1, "Payload Too Large")
}
