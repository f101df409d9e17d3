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
/// instead). Added: `X-Forwarded-Host` (the Host the client asked for),
/// `Forwarded` (RFC 7239) when the route wants it, the route's own fields,
/// `Via` (§7.6.3) and the `Connection` of the next hop.
///
/// Built into a caller's fixed buffer with `HTTPByteWriter`; nothing allocated.
public enum HTTPProxyHeads {
    /// The name this proxy gives itself in `Via`, after the protocol version
    /// it received the message with (`1.0 mtcp-httpd`, `1.1 mtcp-httpd`).
    public static let viaName: StaticString = "mtcp-httpd"

    /// What the proxy decided about a request it forwards, beside its head.
    public struct Forwarding {
        /// The normalised path the route matched, and the query as received.
        public var path: UnsafeRawBufferPointer
        public var query: UnsafeRawBufferPointer?
        /// The Host to send unless the route sets one: the absolute-form
        /// authority, the client's Host, or the upstream's address.
        public var host: UnsafeRawBufferPointer
        /// The Host the client asked for (the absolute-form authority or its
        /// Host), for `X-Forwarded-Host`; nil for an HTTP/1.0 request without one.
        public var clientHost: UnsafeRawBufferPointer?
        /// The client's address as text.
        public var client: UnsafeRawBufferPointer
        /// The protocols the client asks to switch to (its Upgrade value), for a
        /// request the proxy will tunnel once the upstream agrees; nil for others.
        public var upgrade: UnsafeRawBufferPointer?
        /// The client's connection is HTTPS.
        public var secure: Bool
        /// The client is a trusted proxy: its `X-Forwarded-For` is extended, not replaced.
        public var trusted: Bool

        public init(path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer?, host: UnsafeRawBufferPointer,
                    clientHost: UnsafeRawBufferPointer?, client: UnsafeRawBufferPointer,
                    upgrade: UnsafeRawBufferPointer? = nil, secure: Bool, trusted: Bool) {
            self.path = path
            self.query = query
            self.host = host
            self.clientHost = clientHost
            self.client = client
            self.upgrade = upgrade
            self.secure = secure
            self.trusted = trusted
        }
    }

    /// Whether an Upgrade value (`protocols`) may be tunnelled: any protocol but
    /// h2c, HTTP/2 in the clear. After a switch to it, the client's requests
    /// would reach the upstream as HTTP/2 frames the proxy never reads, past its
    /// routes and header policy (h2c smuggling); such a request goes up as a
    /// plain one, without Upgrade.
    public static func mayTunnel(_ protocols: UnsafeRawBufferPointer) -> Bool {
        var offersH2C = false
        ASCII.forEachListElement(protocols) { element in
            offersH2C = ASCII.equalsIgnoringCase(element, "h2c")
            return !offersH2C
        }
        return !offersH2C
    }

    /// Writes the request to forward: the request line with the rebuilt target
    /// and HTTP/1.1, Host (the route's, or the client's), the end-to-end fields
    /// less those the route removes, the body's framing, `X-Forwarded-For` (this
    /// client alone, or a trusted proxy's list extended with it),
    /// `X-Forwarded-Proto`, `X-Forwarded-Host`, `Forwarded` when the route
    /// wants it, the route's fields, `Via`, and `Connection: keep-alive`
    /// (upstream connections are reused), or for an upgrade the client's
    /// `Upgrade` with `Connection: upgrade`. Returns false when it does not fit `writer`.
    public static func forwardRequest(_ head: HTTPRequestHead, in request: UnsafeRawBufferPointer,
                                      _ forwarding: Forwarding, policy: borrowing HTTPProxyHeaderPolicy,
                                      into writer: inout HTTPByteWriter) -> Bool {
        writer.append(head.methodSpan.bytes(in: request))
        writer.append(byte: ASCII.space)
        HTTPProxyTarget.append(path: forwarding.path, query: forwarding.query, into: &writer)
        writer.append(" HTTP/1.1\r\nHost: ")
        if let host = policy.host {
            host.withUnsafeBytes { writer.append($0) }
        } else {
            writer.append(forwarding.host)
        }
        writer.append("\r\n")
        let fields = head.fields(in: request)
        let listed = ConnectionTokens(fields, in: request)
        let maxForwards = maxForwards(head, in: request)
        var wroteMaxForwards = false
        for field in fields {
            let name = field.name.bytes(in: request)
            guard !isHopByHop(name) && !isReplacedInRequests(name) && !hasUnderscore(name)
                && !listed.contains(name, in: request) && !policy.request.drops(name) else { continue }
            if let maxForwards, ASCII.equalsIgnoringCase(name, "max-forwards") {
                // One field, one less (RFC 9110 §7.6.2); 0 was answered by the proxy.
                if !wroteMaxForwards {
                    writer.append("Max-Forwards: ")
                    writer.append(decimal: max(maxForwards - 1, 0))
                    writer.append("\r\n")
                    wroteMaxForwards = true
                }
                continue
            }
            appendField(field, from: request, into: &writer)
        }
        appendFraming(head.body, into: &writer)
        writer.append("X-Forwarded-For: ")
        if forwarding.trusted { appendValues(of: "x-forwarded-for", in: fields, from: request, into: &writer) }
        writer.append(forwarding.client)
        writer.append(forwarding.secure ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n")
        if let clientHost = forwarding.clientHost, !clientHost.isEmpty {
            writer.append("X-Forwarded-Host: ")
            writer.append(clientHost)
            writer.append("\r\n")
        }
        if policy.forwarded { appendForwarded(forwarding, fields, from: request, into: &writer) }
        policy.request.appendAdded(into: &writer)
        appendVia(minorVersion: head.version == .http10 ? 0 : 1, into: &writer)
        if let upgrade = forwarding.upgrade {
            writer.append("Upgrade: ")
            writer.append(upgrade)
            writer.append("\r\nConnection: upgrade\r\n\r\n")
        } else {
            writer.append("Connection: keep-alive\r\n\r\n")
        }
        return !writer.overflowed
    }

    /// `Via: 1.x mtcp-httpd` and its line end, `x` the minor version received (RFC 9110 §7.6.3).
    private static func appendVia(minorVersion: UInt8, into writer: inout HTTPByteWriter) {
        writer.append("Via: 1.")
        writer.append(decimal: Int(minorVersion))
        writer.append(byte: ASCII.space)
        writer.append(viaName)
        writer.append("\r\n")
    }

    /// The Max-Forwards of an OPTIONS or TRACE request (RFC 9110 §7.6.2): its
    /// first field's value, nil without a valid one or for another method (whose
    /// Max-Forwards the proxy may ignore, and passes on). At 0 the proxy is the
    /// request's final recipient and answers it itself.
    public static func maxForwards(_ head: HTTPRequestHead, in request: UnsafeRawBufferPointer) -> Int? {
        guard head.method == .options || head.method == .trace,
              let value = withMaxForwardsName({ head.fields(in: request).firstValue(named: $0) }) else { return nil }
        let digits = value.bytes(in: request)
        guard !digits.isEmpty, digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
        var number = 0
        for digit in digits { number = min(number * 10 + Int(digit &- UInt8(ascii: "0")), 1 << 31) }
        return number
    }

    private static func withMaxForwardsName<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let name: StaticString = "max-forwards"
        return body(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// Calls `body` with each element of the request's X-Forwarded-For fields, in order.
    public static func forEachForwardedFor(in head: HTTPRequestHead, _ request: UnsafeRawBufferPointer,
                                           _ body: (UnsafeRawBufferPointer) -> Void) {
        for field in head.fields(in: request) where ASCII.equalsIgnoringCase(field.name.bytes(in: request), "x-forwarded-for") {
            ASCII.forEachListElement(field.value.bytes(in: request)) { element in
                body(element)
                return true
            }
        }
    }

    /// Each non-empty value of the fields named `name` (lowercase), followed by `, `.
    private static func appendValues(of name: StaticString, in fields: HTTPHeaderFields,
                                     from request: UnsafeRawBufferPointer, into writer: inout HTTPByteWriter) {
        for field in fields where ASCII.equalsIgnoringCase(field.name.bytes(in: request), name) && !field.value.isEmpty {
            writer.append(field.value.bytes(in: request))
            writer.append(", ")
        }
    }

    /// `Forwarded: for=...;host=...;proto=...` (RFC 7239 §4), after a trusted
    /// proxy's own elements. An IPv6 address is bracketed and quoted (§6),
    /// a host quoted when it is not a token (a port's `:`).
    private static func appendForwarded(_ forwarding: Forwarding, _ fields: HTTPHeaderFields,
                                        from request: UnsafeRawBufferPointer, into writer: inout HTTPByteWriter) {
        writer.append("Forwarded: ")
        if forwarding.trusted { appendValues(of: "forwarded", in: fields, from: request, into: &writer) }
        writer.append("for=")
        if forwarding.client.contains(ASCII.colon) {
            writer.append("\"[")
            writer.append(forwarding.client)
            writer.append("]\"")
        } else {
            writer.append(forwarding.client)
        }
        if let host = forwarding.clientHost, !host.isEmpty {
            writer.append(";host=")
            let token = host.allSatisfy(ASCII.isTokenChar)
            if !token { writer.append(byte: ASCII.quote) }
            writer.append(host)
            if !token { writer.append(byte: ASCII.quote) }
        }
        writer.append(forwarding.secure ? ";proto=https\r\n" : ";proto=http\r\n")
    }

    /// Writes the response to relay, from the upstream's complete head `head`
    /// (status line to the empty line, validated by `HTTPResponseParser`): our
    /// HTTP/1.1 with the status code and reason received (RFC 9110 §6.2: an
    /// intermediary sends its own version), the end-to-end fields, the body's
    /// `framing` as the client will receive it (`.none`: no length field, for a
    /// body without one or delimited by the close), the route's `edits`, `Via`,
    /// and `Connection` as the client's side needs; `Date` (the proxy's `date`)
    /// when the upstream sent none (RFC 9110 §6.6.1: a recipient with a clock
    /// adds it to a response it forwards). Returns false when it does not fit `writer`.
    public static func relayResponse(_ head: UnsafeRawBufferPointer, framing: HTTPBodyFraming, keepAlive: Bool,
                                     date: UnsafeRawBufferPointer, edits: borrowing HTTPHeaderEdits,
                                     into writer: inout HTTPByteWriter) -> Bool {
        relay(head, framing: framing, connection: keepAlive ? "keep-alive" : "close", keepsUpgrade: false,
              date: date, edits: edits, into: &writer)
    }

    /// Writes a `101 Switching Protocols` to relay: as `relayResponse`, with the
    /// upstream's `Upgrade` (the protocol both ends now speak) and `Connection: upgrade`.
    public static func relaySwitchingProtocols(_ head: UnsafeRawBufferPointer, edits: borrowing HTTPHeaderEdits,
                                               into writer: inout HTTPByteWriter) -> Bool {
        relay(head, framing: .none, connection: "upgrade", keepsUpgrade: true, date: nil, edits: edits, into: &writer)
    }

    /// Writes an interim (1xx) response to relay (RFC 9110 §15.2): as
    /// `relayResponse`, without framing, Date, edits or Connection.
    public static func relayInterim(_ head: UnsafeRawBufferPointer, into writer: inout HTTPByteWriter) -> Bool {
        relay(head, framing: .none, connection: nil, keepsUpgrade: false, date: nil, edits: HTTPHeaderEdits(),
              into: &writer)
    }

    private static func relay(_ head: UnsafeRawBufferPointer, framing: HTTPBodyFraming, connection: StaticString?,
                              keepsUpgrade: Bool, date: UnsafeRawBufferPointer?, edits: borrowing HTTPHeaderEdits,
                              into writer: inout HTTPByteWriter) -> Bool {
        let versionLength = 9  // "HTTP/1.x "
        guard let statusLineEnd = head.firstIndex(of: ASCII.lf), statusLineEnd >= versionLength else { return false }
        writer.append("HTTP/1.1 ")
        let rest = UnsafeRawBufferPointer(rebasing: head[versionLength..<statusLineEnd])
        writer.append(rest.last == ASCII.cr ? UnsafeRawBufferPointer(rebasing: rest.dropLast()) : rest)
        writer.append("\r\n")
        let fields = HTTPHeaderFields(buffer: head, section: fieldSection(of: head, after: statusLineEnd + 1))
        let listed = ConnectionTokens(fields, in: head)
        var dated = false
        for field in fields {
            let name = field.name.bytes(in: head)
            let upgrade = keepsUpgrade && ASCII.equalsIgnoringCase(name, "upgrade")
            guard upgrade || (!isHopByHop(name) && !isFraming(name) && !listed.contains(name, in: head)
                && !edits.drops(name)) else { continue }
            dated = dated || ASCII.equalsIgnoringCase(name, "date")
            appendField(field, from: head, into: &writer)
        }
        if let date, !dated {
            writer.append("Date: ")
            writer.append(date)
            writer.append("\r\n")
        }
        appendFraming(framing, into: &writer)
        edits.appendAdded(into: &writer)
        appendVia(minorVersion: head[versionLength - 2] &- UInt8(ascii: "0"), into: &writer)
        if let connection {
            writer.append("Connection: ")
            writer.append(connection)
            writer.append("\r\n")
        }
        writer.append("\r\n")
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
/// are hop-by-hop too, however many there are. Up to eight names are kept
/// inline; a longer list is looked up in the Connection values themselves
/// (bounded by the head's size), so no listed field is ever forwarded.
struct ConnectionTokens {
    private var spans: (HTTPByteSpan, HTTPByteSpan, HTTPByteSpan, HTTPByteSpan,
                        HTTPByteSpan, HTTPByteSpan, HTTPByteSpan, HTTPByteSpan)
        = (.empty, .empty, .empty, .empty, .empty, .empty, .empty, .empty)
    private static let inlineCapacity = 8
    private var count = 0
    /// More names than fit inline: `contains` scans `fields` instead.
    private var overflowed = false
    private let fields: HTTPHeaderFields

    init(_ fields: HTTPHeaderFields, in bytes: UnsafeRawBufferPointer) {
        self.fields = fields
        Self.forEachToken(in: fields, bytes) { span in
            guard count < Self.inlineCapacity else {
                overflowed = true
                return false
            }
            append(span)
            return true
        }
    }

    /// Calls `body` with each non-empty element of every Connection value, until it returns false.
    private static func forEachToken(in fields: HTTPHeaderFields, _ bytes: UnsafeRawBufferPointer,
                                     _ body: (HTTPByteSpan) -> Bool) {
        for field in fields where ASCII.equalsIgnoringCase(field.name.bytes(in: bytes), "connection") {
            var position = field.value.start
            while position < field.value.end {
                var end = position
                while end < field.value.end && bytes[end] != ASCII.comma { end += 1 }
                var first = position, last = end
                while first < last && ASCII.isWhitespace(bytes[first]) { first += 1 }
                while last > first && ASCII.isWhitespace(bytes[last - 1]) { last -= 1 }
                if last > first, !body(HTTPByteSpan(start: first, end: last)) { return }
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
        if overflowed {
            var found = false
            Self.forEachToken(in: fields, bytes) { span in
                found = Self.matches(span.bytes(in: bytes), name)
                return !found
            }
            return found
        }
        return withUnsafeBytes(of: spans) { storage in
            for index in 0..<count {
                let span = storage.load(fromByteOffset: index * MemoryLayout<HTTPByteSpan>.stride, as: HTTPByteSpan.self)
                if Self.matches(span.bytes(in: bytes), name) { return true }
            }
            return false
        }
    }

    private static func matches(_ token: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Bool {
        token.count == name.count && zip(token, name).allSatisfy { ASCII.toLower($0) == ASCII.toLower($1) }
    }
}
