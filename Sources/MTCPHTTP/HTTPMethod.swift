/// The request methods the server tells apart (RFC 9110 §9). Methods are
/// case-sensitive: `get` is not GET but an `.other` token.
public enum HTTPMethod: UInt8, Hashable, Sendable {
    case get, head, post, put, delete, options, patch, connect, trace
    /// Any other token. A server that does not implement it answers 501
    /// (RFC 9110 §9.1); the method's bytes are in `HTTPRequestHead.methodSpan`.
    case other

    /// Recognises a method token without building a string: dispatch on the length,
    /// then compare bytes.
    @inlinable
    public init(token bytes: UnsafeRawBufferPointer) {
        @inline(__always) func equals(_ literal: StaticString) -> Bool {
            let expected = literal.utf8Start
            for index in 0..<bytes.count where bytes[index] != expected[index] { return false }
            return true
        }
        switch bytes.count {
        case 3: self = equals("GET") ? .get : equals("PUT") ? .put : .other
        case 4: self = equals("HEAD") ? .head : equals("POST") ? .post : .other
        case 5: self = equals("PATCH") ? .patch : equals("TRACE") ? .trace : .other
        case 6: self = equals("DELETE") ? .delete : .other
        case 7: self = equals("OPTIONS") ? .options : equals("CONNECT") ? .connect : .other
        default: self = .other
        }
    }

    /// The method's name for messages the server builds (`.other` has none of its own;
    /// its bytes are in the request).
    public var name: StaticString {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .patch: "PATCH"
        case .connect: "CONNECT"
        case .trace: "TRACE"
        case .other: "OTHER"
        }
    }
}

/// The protocol versions a request can carry once parsed; any other 1.x minor
/// version is treated as 1.1 (RFC 9110 §2.5), other majors are refused with 505.
public enum HTTPVersion: UInt8, Hashable, Sendable {
    case http10, http11
}

/// How the body of a request is delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: Hashable, Sendable {
    /// No body: neither Content-Length nor Transfer-Encoding.
    case none
    /// Exactly this many bytes follow the head.
    case contentLength(Int)
    /// A chunked body follows: decode it with `HTTPChunkedDecoder`.
    case chunked
}
