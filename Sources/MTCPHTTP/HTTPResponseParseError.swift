/// Why `HTTPResponseParser` refused a response. Every malformed byte sequence
/// ends in exactly one of these, so a load generator can count servers' faults
/// by kind instead of lumping them together.
public enum HTTPResponseParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The status line is not `HTTP/1.x SP 3DIGIT SP reason CRLF` (RFC 9112 §4).
    case invalidStatusLine
    /// A CR not followed by LF, or an LF without CR (RFC 9112 §2.2: a strict
    /// recipient does not accept bare line endings).
    case invalidLineEnding
    /// A field line that is not `token ":" OWS value OWS`, a control byte in a
    /// value, or an obsolete line folding (RFC 9112 §5).
    case invalidHeader
    /// The status line and fields together exceed the parser's limit.
    case headTooLarge
    /// A Content-Length that is not one decimal number, or two that differ
    /// (RFC 9110 §8.6).
    case invalidContentLength
    /// A Transfer-Encoding other than exactly `chunked`: nothing else can be
    /// decoded here, and an HTTP/1.0 response must not carry one (RFC 9112 §6.1).
    case unsupportedTransferEncoding
    /// Both Content-Length and Transfer-Encoding: a sign of response splitting,
    /// refused as RFC 9112 §6.3 advises.
    case conflictingFraming
    /// A chunk size that is not hexadecimal (or overflows), or chunk data not
    /// followed by CRLF (RFC 9112 §7.1).
    case invalidChunk
    /// 101 Switching Protocols to a request that did not ask for it (or in
    /// HTTP/1.0): the bytes that follow are not HTTP/1.1.
    case unexpectedUpgrade
    /// The connection ended before the message did: inside the head, short of
    /// Content-Length, or before the last chunk and its trailer section.
    case truncated

    public var description: String {
        switch self {
        case .invalidStatusLine: "invalid status line"
        case .invalidLineEnding: "invalid line ending"
        case .invalidHeader: "invalid header field"
        case .headTooLarge: "response head too large"
        case .invalidContentLength: "invalid Content-Length"
        case .unsupportedTransferEncoding: "unsupported Transfer-Encoding"
        case .conflictingFraming: "both Content-Length and Transfer-Encoding"
        case .invalidChunk: "invalid chunked framing"
        case .unexpectedUpgrade: "unexpected 101 Switching Protocols"
        case .truncated: "truncated response"
        }
    }
}
