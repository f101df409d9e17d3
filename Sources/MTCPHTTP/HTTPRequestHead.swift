/// A parsed request head: where each part lies in the caller's buffer, and what the
/// fields the server acts on mean. It holds no pointer, so it stays valid when the
/// caller moves its buffer, as long as offsets are read against the moved bytes.
public struct HTTPRequestHead: Hashable, Sendable {
    /// The method, recognised.
    public var method: HTTPMethod = .other
    /// The method's bytes (for `.other`, for logs and for proxying).
    public var methodSpan: HTTPByteSpan = .empty
    /// The request-target as sent; `HTTPTargetPath.normalize` turns it into a path.
    public var target: HTTPByteSpan = .empty
    /// The protocol version.
    public var version: HTTPVersion = .http11
    /// The whole request line without its CRLF (the access log's `%r`).
    public var requestLine: HTTPByteSpan = .empty
    /// The field lines, from the first to the CRLF of the last; iterate them with
    /// `fields(in:)`.
    public var fieldSection: HTTPByteSpan = .empty
    /// How many field lines the head has (at most `HTTPLimits.maxHeaderCount`).
    public var fieldCount: Int = 0
    /// How the body is delimited; Content-Length is already checked against the limit.
    public var body: HTTPBodyFraming = .none
    /// Whether the connection stays open after the response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 §9.3).
    public var keepAlive: Bool = true
    /// Whether the client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1).
    public var expectsContinue: Bool = false
    /// Whether `Expect` holds anything but `100-continue`, which no server here
    /// knows how to meet (RFC 9110 §10.1.1: 417).
    public var hasUnknownExpectation: Bool = false
    /// The Upgrade value of an HTTP/1.1 request whose Connection lists `upgrade`
    /// (RFC 9110 §7.8: the protocols the client would switch to); nil otherwise.
    public var upgrade: HTTPByteSpan? = nil
    /// The Host value (present in every HTTP/1.1 request).
    public var host: HTTPByteSpan? = nil
    /// The first If-None-Match value. Further If-None-Match lines are ignored: the
    /// list they would add can only turn a 200 into a 304, so dropping them is safe.
    public var ifNoneMatch: HTTPByteSpan? = nil
    /// The If-Modified-Since value; nil as well when it was sent twice (invalid, and
    /// RFC 9110 §13.1.3 says to ignore an invalid one).
    public var ifModifiedSince: HTTPByteSpan? = nil
    /// The Range value; nil as well when sent twice (RFC 9110 §14.2: ignore it).
    public var range: HTTPByteSpan? = nil
    /// The If-Range value (RFC 9110 §13.1.5); nil when sent twice.
    public var ifRange: HTTPByteSpan? = nil
    /// The Accept-Encoding value, to choose a precompressed variant; nil as well
    /// when sent on several lines (the file is then sent as it is, which every
    /// client accepts, instead of joining the lists).
    public var acceptEncoding: HTTPByteSpan? = nil
    /// The Referer value, for the access log.
    public var referer: HTTPByteSpan? = nil
    /// The User-Agent value, for the access log.
    public var userAgent: HTTPByteSpan? = nil
    /// Bytes the head took, from the first byte given to the parser to the end of the
    /// empty line: the body, or the next pipelined request, starts here.
    public var headLength: Int = 0

    /// Creates an empty head; the parser fills it in.
    public init() {}

    /// The field lines as (name, value) spans, values trimmed of surrounding
    /// whitespace, in the order received. `buffer` is the buffer the head was parsed
    /// from. The lines were validated by the parser, so iteration only splits them.
    public func fields(in buffer: UnsafeRawBufferPointer) -> HTTPHeaderFields {
        HTTPHeaderFields(buffer: buffer, section: fieldSection)
    }
}

/// One field line: spans of its name and of its value.
public struct HTTPHeaderField: Hashable, Sendable {
    /// The field name as sent (compare it case-insensitively).
    public var name: HTTPByteSpan
    /// The field value without surrounding whitespace.
    public var value: HTTPByteSpan
}

/// The field lines of a parsed head, as a sequence that walks the caller's bytes;
/// no storage of its own, so a connection keeps no per-field array while its head
/// is incomplete.
public struct HTTPHeaderFields: Sequence {
    let buffer: UnsafeRawBufferPointer
    let section: HTTPByteSpan

    /// The field lines of `section` of `buffer`: from the first field line up to,
    /// not including, the empty line that ends a head; the lines must have been
    /// validated by a parser (each holds a colon).
    public init(buffer: UnsafeRawBufferPointer, section: HTTPByteSpan) {
        self.buffer = buffer
        self.section = section
    }

    /// Walks the section line by line.
    public struct Iterator: IteratorProtocol {
        let buffer: UnsafeRawBufferPointer
        var position: Int
        let end: Int

        /// The next field line, or nil after the last one.
        public mutating func next() -> HTTPHeaderField? {
            guard position < end else { return nil }
            var lineEnd = position
            while lineEnd < end, buffer[lineEnd] != ASCII.lf { lineEnd += 1 }
            let following = lineEnd + 1
            if lineEnd > position, buffer[lineEnd - 1] == ASCII.cr { lineEnd -= 1 }
            var colon = position
            while buffer[colon] != ASCII.colon { colon += 1 }
            var valueStart = colon + 1
            var valueEnd = lineEnd
            while valueStart < valueEnd, ASCII.isWhitespace(buffer[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart, ASCII.isWhitespace(buffer[valueEnd - 1]) { valueEnd -= 1 }
            let field = HTTPHeaderField(name: HTTPByteSpan(start: position, end: colon),
                                        value: HTTPByteSpan(start: valueStart, end: valueEnd))
            position = following
            return field
        }
    }

    /// An iterator from the first field line.
    public func makeIterator() -> Iterator {
        Iterator(buffer: buffer, position: section.start, end: section.end)
    }

    /// The value of the first field named `lowercaseName` (given in lower case),
    /// e.g. for a proxy looking up a field the parser does not interpret.
    public func first(_ lowercaseName: StaticString) -> HTTPByteSpan? {
        for field in self where ASCII.equalsIgnoringCase(field.name.bytes(in: buffer), lowercaseName) {
            return field.value
        }
        return nil
    }

    /// The first non-empty value of a field named `lowercaseName` (lower case
    /// bytes, a name chosen at run time: a pool's `hash_header`).
    public func firstValue(named lowercaseName: UnsafeRawBufferPointer) -> HTTPByteSpan? {
        for field in self where !field.value.isEmpty {
            let name = field.name.bytes(in: buffer)
            if name.count == lowercaseName.count && zip(name, lowercaseName).allSatisfy({ ASCII.toLower($0) == $1 }) {
                return field.value
            }
        }
        return nil
    }
}
