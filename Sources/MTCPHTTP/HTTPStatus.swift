/// The HTTP status codes the appliance sends or checks (RFC 9110 §15).
///
/// A thin wrapper over the number rather than an enum: the proxy passes through
/// whatever status an upstream sends, so every three-digit code must be representable.
public struct HTTPStatus: RawRepresentable, Hashable, Sendable {
    /// The three-digit status code.
    public var rawValue: UInt16
    /// Wraps a status code as sent on the wire.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// 200 OK.
    public static let ok = HTTPStatus(rawValue: 200)
    /// 204 No Content: the answer to OPTIONS, with Allow.
    public static let noContent = HTTPStatus(rawValue: 204)
    /// 206 Partial Content: a single byte range of the representation.
    public static let partialContent = HTTPStatus(rawValue: 206)
    /// 301 Moved Permanently: a directory requested without its trailing slash.
    public static let movedPermanently = HTTPStatus(rawValue: 301)
    /// 304 Not Modified: a conditional GET/HEAD whose validator still matches.
    public static let notModified = HTTPStatus(rawValue: 304)
    /// 400 Bad Request: malformed syntax or ambiguous framing.
    public static let badRequest = HTTPStatus(rawValue: 400)
    /// 403 Forbidden.
    public static let forbidden = HTTPStatus(rawValue: 403)
    /// 404 Not Found.
    public static let notFound = HTTPStatus(rawValue: 404)
    /// 405 Method Not Allowed (the server decides it from the parsed method).
    public static let methodNotAllowed = HTTPStatus(rawValue: 405)
    /// 408 Request Timeout: the head did not arrive within the header timeout.
    public static let requestTimeout = HTTPStatus(rawValue: 408)
    /// 411 Length Required: POST/PUT without Content-Length or chunked framing.
    public static let lengthRequired = HTTPStatus(rawValue: 411)
    /// 413 Content Too Large: the body exceeds `HTTPLimits.maxBodyBytes`.
    public static let contentTooLarge = HTTPStatus(rawValue: 413)
    /// 414 URI Too Long: the request line exceeds `HTTPLimits.maxRequestLineLength`.
    public static let uriTooLong = HTTPStatus(rawValue: 414)
    /// 416 Range Not Satisfiable.
    public static let rangeNotSatisfiable = HTTPStatus(rawValue: 416)
    /// 417 Expectation Failed: an `Expect` other than `100-continue` (RFC 9110 §10.1.1).
    public static let expectationFailed = HTTPStatus(rawValue: 417)
    /// 431 Request Header Fields Too Large: too many fields or too many bytes.
    public static let requestHeaderFieldsTooLarge = HTTPStatus(rawValue: 431)
    /// 500 Internal Server Error.
    public static let internalServerError = HTTPStatus(rawValue: 500)
    /// 501 Not Implemented: unknown method or transfer coding.
    public static let notImplemented = HTTPStatus(rawValue: 501)
    /// 502 Bad Gateway: the upstream sent garbage or closed early.
    public static let badGateway = HTTPStatus(rawValue: 502)
    /// 503 Service Unavailable: no upstream server could be used.
    public static let serviceUnavailable = HTTPStatus(rawValue: 503)
    /// 504 Gateway Timeout: the upstream did not answer in time.
    public static let gatewayTimeout = HTTPStatus(rawValue: 504)
    /// 505 HTTP Version Not Supported: a major version other than 1.
    public static let httpVersionNotSupported = HTTPStatus(rawValue: 505)

    /// The reason phrase sent after the code (RFC 9110 §15); a `StaticString` so that
    /// building a status line never allocates. Unknown codes get an empty phrase,
    /// which RFC 9112 §4 allows.
    public var reasonPhrase: StaticString {
        switch rawValue {
        case 200: "OK"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}
