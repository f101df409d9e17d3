/// The heads a reverse proxy writes: the request it forwards upstream and the
/// response it relays back, each the original minus the hop-by-hop fields
/// (RFC 9110 §7.6.1: Connection, the fields Connection names, Keep-Alive,
/// Proxy-Connection, TE, Trailer, Upgrade, Proxy-Authorization), plus the
/// proxy's own: `Via` (§7.6.3), `X-Forwarded-For` on requests, and the
/// `Connection` of the next hop. Content-Length and Transfer-Encoding are kept:
/// the proxy relays bodies with their framing unchanged.
///
/// Built into a caller's fixed buffer with `HTTPByteWriter`; nothing allocated.
public enum HTTPProxyHeads {
    /// The `Via` value this proxy adds.
    public static let via: StaticString = "1.1 mtcp-httpd"

    /// Writes the request to forward: the request line with HTTP/1.1, the
    /// end-to-end fields, `X-Forwarded-For` extended with `client` (the client's
    /// address as text), `Via`, and `Connection: keep-alive` (upstream
    /// connections are reused). Returns false when it does not fit `writer`.
    public static func forwardRequest(_ head: HTTPRequestHead, in request: UnsafeRawBufferPointer,
                                      client: UnsafeRawBufferPointer, into writer: inout HTTPByteWriter) -> Bool {
        writer.append(head.methodSpan.bytes(in: request))
        writer.append(byte: ASCII.space)
        writer.append(head.target.bytes(in: request))
        writer.append(" HTTP/1.1\r\n")
        let fields = head.fields(in: request)
        var forwardedFor: HTTPByteSpan?
        let listed = ConnectionTokens(fields, in: request)
        for field in fields {
            let name = field.name.bytes(in: request)
            if ASCII.equalsIgnoringCase(name, "x-forwarded-for") {
                forwardedFor = field.value
                continue
            }
            guard !isHopByHop(name) && !listed.contains(name, in: request) else { continue }
            appendField(field, from: request, into: &writer)
        }
        writer.append("X-Forwarded-For: ")
        if let forwardedFor, !forwardedFor.isEmpty {
            writer.append(forwardedFor.bytes(in: request))
            writer.append(", ")
        }
        writer.append(client)
        writer.append("\r\nVia: ")
        writer.append(via)
        writer.append("\r\nConnection: keep-alive\r\n\r\n")
        return !writer.overflowed
    }

    /// Writes the response to relay, from the upstream's complete head `head`
    /// (status line to the empty line, validated by `HTTPResponseParser`): the
    /// status line as received, the end-to-end fields, `Via`, and `Connection`
    /// as the client's side needs. Returns false when it does not fit `writer`.
    public static func relayResponse(_ head: UnsafeRawBufferPointer, keepAlive: Bool,
                                     into writer: inout HTTPByteWriter) -> Bool {
        guard let statusLineEnd = head.firstIndex(of: ASCII.lf) else { return false }
        writer.append(UnsafeRawBufferPointer(rebasing: head[0...statusLineEnd]))
        let fields = HTTPHeaderFields(buffer: head, section: fieldSection(of: head, after: statusLineEnd + 1))
        let listed = ConnectionTokens(fields, in: head)
        for field in fields {
            let name = field.name.bytes(in: head)
            guard !isHopByHop(name) && !listed.contains(name, in: head) else { continue }
            appendField(field, from: head, into: &writer)
        }
        writer.append("Via: ")
        writer.append(via)
        writer.append(keepAlive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n")
        return !writer.overflowed
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
