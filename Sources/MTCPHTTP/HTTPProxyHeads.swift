/// The heads a reverse proxy writes: the request it forwards upstream and the
/// response it relays back. Each is rebuilt, not copied: the proxy keeps the
/// end-to-end fields and writes the rest itself, so that the upstream and the
/// proxy cannot disagree on where a message ends or on who sent it.
///
/// Removed: the hop-by-hop fields (RFC 9110 §7.6.1: Connection, the fields
/// Connection names, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade,
/// Proxy-Authorization). Replaced, whatever Connection says about them: the
/// framing (Content-Length, Transfer-Encoding; re-emitted in one canonical form
/// from the framing the parser decided), Host, Expect (the proxy answers
/// `100 Continue` itself), and the client identity fields (X-Forwarded-For,
/// X-Forwarded-Proto; Forwarded, X-Real-IP and X-Forwarded-Host, which a client
/// could forge, are dropped; a trusted proxy's X-Forwarded-For is extended
/// instead). Added: `Via` (§7.6.3) and the `Connection` of the next hop.
///
/// Built into a caller's fixed buffer with `HTTPByteWriter`; nothing allocated.
public enum HTTPProxyHeads {
    /// The `Via` value this proxy adds.
    public static let via: StaticString = "1.1 mtcp-httpd"

    /// What the proxy decided about a request it forwards, beside its head.
    public struct Forwarding {
        /// The normalised path the route matched, and the query as received.
        public var path: UnsafeRawBufferPointer
        public var query: UnsafeRawBufferPointer?
        /// The Host to send: the absolute-form authority, the client's Host, or the upstream's address.
        public var host: UnsafeRawBufferPointer
        /// The client's address as text.
        public var client: UnsafeRawBufferPointer
        /// The client's connection is HTTPS.
        public var secure: Bool
        /// The client is a trusted proxy: its `X-Forwarded-For` is extended, not replaced.
        public var trusted: Bool

        public init(path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer?, host: UnsafeRawBufferPointer,
                    client: UnsafeRawBufferPointer, secure: Bool, trusted: Bool) {
            self.path = path
            self.query = query
            self.host = host
            self.client = client
            self.secure = secure
            self.trusted = trusted
        }
    }

    /// Writes the request to forward: the request line with the rebuilt target
    /// and HTTP/1.1, Host, the end-to-end fields, the body's framing,
    /// `X-Forwarded-For` (this client alone, or a trusted proxy's list extended
    /// with it) and `X-Forwarded-Proto`, `Via`, and `Connection: keep-alive`
    /// (upstream connections are reused). Returns false when it does not fit `writer`.
    public static func forwardRequest(_ head: HTTPRequestHead, in request: UnsafeRawBufferPointer,
                                      _ forwarding: Forwarding, into writer: inout HTTPByteWriter) -> Bool {
        writer.append(head.methodSpan.bytes(in: request))
        writer.append(byte: ASCII.space)
        HTTPProxyTarget.append(path: forwarding.path, query: forwarding.query, into: &writer)
        writer.append(" HTTP/1.1\r\nHost: ")
        writer.append(forwarding.host)
        writer.append("\r\n")
        let fields = head.fields(in: request)
        let listed = ConnectionTokens(fields, in: request)
        for field in fields {
            let name = field.name.bytes(in: request)
            guard !isHopByHop(name) && !isReplacedInRequests(name) && !hasUnderscore(name)
                && !listed.contains(name, in: request) else { continue }
            appendField(field, from: request, into: &writer)
        }
        appendFraming(head.body, into: &writer)
        writer.append("X-Forwarded-For: ")
        if forwarding.trusted {
            for field in fields where ASCII.equalsIgnoringCase(field.name.bytes(in: request), "x-forwarded-for")
                && !field.value.isEmpty {
                writer.append(field.value.bytes(in: request))
                writer.append(", ")
            }
        }
        writer.append(forwarding.client)
        writer.append(forwarding.secure ? "\r\nX-Forwarded-Proto: https" : "\r\nX-Forwarded-Proto: http")
        writer.append("\r\nVia: ")
        writer.append(via)
        writer.append("\r\nConnection: keep-alive\r\n\r\n")
        return !writer.overflowed
    }

    /// Writes the response to relay, from the upstream's complete head `head`
    /// (status line to the empty line, validated by `HTTPResponseParser`): our
    /// HTTP/1.1 with the status code and reason received (RFC 9110 §6.2: an
    /// intermediary sends its own version), the end-to-end fields, the body's
    /// `framing` as the client will receive it (`.none`: no length field, for a
    /// body without one or delimited by the close), `Via`, and `Connection` as the
    /// client's side needs. Returns false when it does not fit `writer`.
    public static func relayResponse(_ head: UnsafeRawBufferPointer, framing: HTTPBodyFraming, keepAlive: Bool,
                                     into writer: inout HTTPByteWriter) -> Bool {
        let versionLength = 9  // "HTTP/1.x "
        guard let statusLineEnd = head.firstIndex(of: ASCII.lf), statusLineEnd >= versionLength else { return false }
        writer.append("HTTP/1.1 ")
        let rest = UnsafeRawBufferPointer(rebasing: head[versionLength..<statusLineEnd])
        writer.append(rest.last == ASCII.cr ? UnsafeRawBufferPointer(rebasing: rest.dropLast()) : rest)
        writer.append("\r\n")
        let fields = HTTPHeaderFields(buffer: head, section: fieldSection(of: head, after: statusLineEnd + 1))
        let listed = ConnectionTokens(fields, in: head)
        for field in fields {
            let name = field.name.bytes(in: head)
            guard !isHopByHop(name) && !isFraming(name) && !listed.contains(name, in: head) else { continue }
            appendField(field, from: head, into: &writer)
        }
        appendFraming(framing, into: &writer)
        writer.append("Via: ")
        writer.append(via)
        writer.append(keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        return !writer.overflowed
    }

    /// The framing field of a message whose body is framed as `framing`, in one canonical form.
    private static func appendFraming(_ framing: HTTPBodyFraming, into writer: inout HTTPByteWriter) {
        switch framing {
        case .none: break
        case .contentLength(let length):
            writer.append("Content-Length: ")
            writer.append(decimal: length)
            writer.append("\r\n")
        case .chunked:
            writer.append("Transfer-Encoding: chunked\r\n")
        }
    }

    /// The field lines of a complete head: from `start` to the empty line.
    static func fieldSection(of head: UnsafeRawBufferPointer, after start: Int) -> HTTPByteSpan {
        var end = head.count
        if end > start, head[end - 1] == ASCII.lf { end -= 1 }
        if end > start, head[end - 1] == ASCII.cr { end -= 1 }
        return HTTPByteSpan(start: start, end: max(start, end))
    }

    private static func appendField(_ field: HTTPHeaderField, from bytes: UnsafeRawBufferPointer,
                                    into writer: inout HTTPByteWriter) {
        writer.append(field.name.bytes(in: bytes))
        writer.append(": ")
        writer.append(field.value.bytes(in: bytes))
        writer.append("\r\n")
    }

    /// The fields the proxy writes itself in a forwarded request, or drops as forgeable:
    /// client identity (addresses, scheme, host, port, prefix) that an upstream would
    /// trust, and the URL overrides (`X-Original-URL`, `X-Rewrite-URL`) with which some
    /// frameworks route by a path other than the one the proxy matched.
    static func isReplacedInRequests(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 4: ASCII.equalsIgnoringCase(name, "host")
        case 6: ASCII.equalsIgnoringCase(name, "expect")
        case 9: ASCII.equalsIgnoringCase(name, "forwarded") || ASCII.equalsIgnoringCase(name, "x-real-ip")
        case 11: ASCII.equalsIgnoringCase(name, "x-client-ip")
        case 13: ASCII.equalsIgnoringCase(name, "x-rewrite-url")
        case 14: ASCII.equalsIgnoringCase(name, "x-original-url") || ASCII.equalsIgnoringCase(name, "true-client-ip")
            || isFraming(name)
        case 15: ASCII.equalsIgnoringCase(name, "x-forwarded-for")
        case 16: ASCII.equalsIgnoringCase(name, "x-forwarded-host") || ASCII.equalsIgnoringCase(name, "x-forwarded-port")
            || ASCII.equalsIgnoringCase(name, "cf-connecting-ip")
        case 17: ASCII.equalsIgnoringCase(name, "x-forwarded-proto") || isFraming(name)
        case 18: ASCII.equalsIgnoringCase(name, "x-forwarded-prefix") || ASCII.equalsIgnoringCase(name, "x-forwarded-server")
        default: false
        }
    }

    /// Field names with `_` are dropped, as nginx does by default: CGI-style upstreams
    /// (PHP-FPM, WSGI, Rack) map `_` and `-` to one variable, so `X_Forwarded_For`
    /// would otherwise pass a forged client address under a replaced field's name.
    static func hasUnderscore(_ name: UnsafeRawBufferPointer) -> Bool {
        name.contains(UInt8(ascii: "_"))
    }

    /// Content-Length and Transfer-Encoding, which the proxy always writes itself.
    static func isFraming(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 14: ASCII.equalsIgnoringCase(name, "content-length")
        case 17: ASCII.equalsIgnoringCase(name, "transfer-encoding")
        default: false
        }
    }

    static func isHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 2: ASCII.equalsIgnoringCase(name, "te")
        case 7: ASCII.equalsIgnoringCase(name, "trailer") || ASCII.equalsIgnoringCase(name, "upgrade")
        case 10: ASCII.equalsIgnoringCase(name, "connection") || ASCII.equalsIgnoringCase(name, "keep-alive")
        case 16: ASCII.equalsIgnoringCase(name, "proxy-connection")
        case 19: ASCII.equalsIgnoringCase(name, "proxy-authorization")
        default: false
        }
    }
}

/// The field names a `Connection` field lists (RFC 9110 §7.6.1): those fields
/// are hop-by-hop too. Up to eight names are kept inline; a longer list is
/// unusual enough that its extra names are simply forwarded.
struct ConnectionTokens {
    private var spans: (HTTPByteSpan, HTTPByteSpan, HTTPByteSpan, HTTPByteSpan,
                        HTTPByteSpan, HTTPByteSpan, HTTPByteSpan, HTTPByteSpan)
        = (.empty, .empty, .empty, .empty, .empty, .empty, .empty, .empty)
    private var count = 0

    init(_ fields: HTTPHeaderFields, in bytes: UnsafeRawBufferPointer) {
        for field in fields where ASCII.equalsIgnoringCase(field.name.bytes(in: bytes), "connection") {
            var position = field.value.start
            while position < field.value.end && count < 8 {
                var end = position
                while end < field.value.end && bytes[end] != ASCII.comma { end += 1 }
                var first = position, last = end
                while first < last && ASCII.isWhitespace(bytes[first]) { first += 1 }
                while last > first && ASCII.isWhitespace(bytes[last - 1]) { last -= 1 }
                if last > first { append(HTTPByteSpan(start: first, end: last)) }
                position = end + 1
            }
        }
    }

    private mutating func append(_ span: HTTPByteSpan) {
        withUnsafeMutableBytes(of: &spans) { $0.storeBytes(of: span, toByteOffset: count * MemoryLayout<HTTPByteSpan>.stride, as: HTTPByteSpan.self) }
        count += 1
    }

    /// Whether `name` is one of the listed names (case-insensitively).
    func contains(_ name: UnsafeRawBufferPointer, in bytes: UnsafeRawBufferPointer) -> Bool {
        withUnsafeBytes(of: spans) { storage in
            for index in 0..<count {
                let span = storage.load(fromByteOffset: index * MemoryLayout<HTTPByteSpan>.stride, as: HTTPByteSpan.self)
                let token = span.bytes(in: bytes)
                guard token.count == name.count else { continue }
                if zip(token, name).allSatisfy({ ASCII.toLower($0) == ASCII.toLower($1) }) { return true }
            }
            return false
        }
    }
}
