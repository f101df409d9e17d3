/// Why a request head (or a chunked body) was refused. Each case maps to exactly one
/// status code; the case itself is kept so that tests, logs and statistics can tell
/// apart failures that share a status.
public enum HTTPParseError: Error, Hashable, Sendable {
    // 400 Bad Request: the request line.
    /// The method is not a token (RFC 9110 §9.1), or is empty.
    case invalidMethod
    /// Missing or doubled SP, an empty or non-VCHAR request-target (RFC 9112 §3).
    case invalidRequestLine
    /// The version is not `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3).
    case invalidVersion
    /// More than one empty line before the request line (one is tolerated, RFC 9112 §2.2).
    case unexpectedEmptyLine
    // 400 Bad Request: field lines.
    /// A field name that is empty or not a token.
    case invalidFieldName
    /// Whitespace between a field name and its colon: RFC 9112 §5.1 requires 400,
    /// since intermediaries disagree on what such a name means (smuggling).
    case whitespaceBeforeColon
    /// A line beginning with SP/HTAB: obsolete line folding (RFC 9112 §5.2), or
    /// whitespace before the first field (§2.2).
    case obsoleteLineFolding
    /// A control character (NUL, bare CR, DEL, ...) in a field value.
    case invalidFieldValue
    /// An HTTP/1.1 request without Host (RFC 9112 §3.2).
    case missingHost
    /// More than one Host field line (RFC 9112 §3.2).
    case multipleHosts
    /// A Host value that cannot be a uri-host with optional port.
    case invalidHost
    /// Content-Length that is not a list of digits (RFC 9110 §8.6).
    case invalidContentLength
    /// Several Content-Length values that differ (RFC 9112 §6.3 rule 5).
    case conflictingContentLength
    /// Both Content-Length and Transfer-Encoding: a smuggling attempt or a broken
    /// intermediary (RFC 9112 §6.1); refused rather than guessed.
    case contentLengthWithTransferEncoding
    /// Transfer-Encoding that is empty or applies chunked twice (RFC 9112 §6.1).
    case invalidTransferEncoding
    /// Transfer-Encoding in an HTTP/1.0 request, whose framing 1.0 does not define
    /// (RFC 9112 §6.1: the framing is faulty).
    case transferEncodingInHTTP10
    // 400 Bad Request: chunked framing.
    /// A chunk-size that is not hexadecimal, or a bad chunk extension.
    case invalidChunkSize
    /// A chunk-size line longer than `HTTPLimits.maxChunkLineLength`.
    case chunkLineTooLong
    /// Chunk data not followed by CRLF, or a bare CR/LF in the framing.
    case invalidChunkTerminator
    /// A malformed trailer field line.
    case invalidTrailer
    // Other statuses.
    /// 411: POST or PUT without Content-Length or chunked, while `lengthRequired`.
    case lengthRequired
    /// 413: Content-Length or the sum of chunk sizes above `maxBodyBytes`.
    case bodyTooLarge
    /// 414: a request line longer than `maxRequestLineLength`.
    case requestLineTooLong
    /// 431: more field lines than `maxHeaderCount`.
    case tooManyFields
    /// 431: a header section (or trailer section) larger than `maxHeaderBytes`.
    case headerSectionTooLarge
    /// 501: a transfer coding other than chunked (RFC 9112 §6.1).
    case unsupportedTransferCoding
    /// 505: an HTTP major version other than 1.
    case unsupportedVersion

    /// The status the server answers with; after any of these it closes the
    /// connection, because the framing of what follows is unknown.
    public var status: HTTPStatus {
        switch self {
        case .lengthRequired: .lengthRequired
        case .bodyTooLarge: .contentTooLarge
        case .requestLineTooLong: .uriTooLong
        case .tooManyFields, .headerSectionTooLarge: .requestHeaderFieldsTooLarge
        case .unsupportedTransferCoding: .notImplemented
        case .unsupportedVersion: .httpVersionNotSupported
        default: .badRequest
        }
    }
}
