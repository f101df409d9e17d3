/// What a route changes in the heads the proxy forwards and relays (httpd.json
/// `routes[i]`: `host`, `forwarded`, `request_headers`, `response_headers`).
/// Checked and rendered once, when the configuration is read: per request the
/// proxy only compares names and copies bytes (nginx's `proxy_set_header Host`,
/// `proxy_set_header`, `proxy_hide_header` and `add_header`).
public struct HTTPProxyHeaderPolicy: Hashable, Sendable {
    /// The Host sent upstream; nil: the client's (or, for an absolute-form
    /// target, its authority). The client's stays in `X-Forwarded-Host`.
    public var host: [UInt8]?
    /// Whether the request gets `Forwarded` (RFC 7239) beside `X-Forwarded-*`.
    public var forwarded = false
    /// Fields removed from and added to the forwarded request.
    public var request = HTTPHeaderEdits()
    /// Fields removed from and added to the relayed response.
    public var response = HTTPHeaderEdits()

    public init(host: String? = nil, forwarded: Bool = false, request: HTTPHeaderEdits = HTTPHeaderEdits(),
                response: HTTPHeaderEdits = HTTPHeaderEdits()) {
        self.host = host.map { Array($0.utf8) }
        self.forwarded = forwarded
        self.request = request
        self.response = response
    }

    /// Fields the proxy writes itself in a request: a route can neither add nor
    /// remove them (the framing, the connection management, Host, which `host`
    /// sets, and the client identity fields, which it alone may vouch for).
    public static let requestNamesOfTheProxy: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te",
        "trailer", "upgrade", "expect", "via", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded",
    ]
    /// Fields the proxy writes itself in a response.
    public static let responseNamesOfTheProxy: Set<String> = [
        "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "upgrade", "via",
    ]

    /// Why `host` cannot be sent as Host, or nil.
    public static func hostProblem(_ host: String) -> String? {
        let bytes = Array(host.utf8)
        let valid = !bytes.isEmpty && bytes.count <= 255
            && bytes.withUnsafeBytes { HTTPRequestParser.isValidHost($0) }
        return valid ? nil : "\"\(host)\" is not a host (a name or address, with an optional :port, up to 255 bytes)"
    }
}

/// Field lines a route removes from a head and adds to it. An added field
/// replaces the fields of that name the other side sent (so a route's
/// `X-Env: prod` cannot be doubled or contradicted by the client's own).
public struct HTTPHeaderEdits: Hashable, Sendable {
    /// The names dropped (removed and added ones), lowercased, each after a
    /// byte with its length: one buffer, walked without allocating.
    private var dropped: [UInt8] = []
    /// The added field lines, rendered: `Name: value\r\n` each.
    public private(set) var added: [UInt8] = []

    /// The most bytes the added lines of one direction may take: the proxy's
    /// head buffers keep this much room beside the largest head.
    public static let maxAddedBytes = 1024

    /// Edits adding `add` (in order) and removing `remove`; the names and
    /// values must have passed `problem(name:value:reserved:)`.
    public init(add: [(name: String, value: String)] = [], remove: [String] = []) {
        for name in remove + add.map(\.name) {
            let lowered = Array(name.lowercased().utf8)
            dropped.append(UInt8(lowered.count))
            dropped += lowered
        }
        for (name, value) in add { added += Array("\(name): \(value)\r\n".utf8) }
    }

    /// Whether a field named `name` from the other side is dropped.
    public func drops(_ name: UnsafeRawBufferPointer) -> Bool {
        dropped.withUnsafeBytes { list in
            var position = 0
            while position < list.count {
                let length = Int(list[position])
                let listed = UnsafeRawBufferPointer(rebasing: list[(position + 1)..<(position + 1 + length)])
                if length == name.count && zip(listed, name).allSatisfy({ $0 == ASCII.toLower($1) }) { return true }
                position += 1 + length
            }
            return false
        }
    }

    /// Appends the added field lines.
    public func appendAdded(into writer: inout HTTPByteWriter) {
        added.withUnsafeBytes { writer.append($0) }
    }

    /// Why `name` (with `value`, for an added field) cannot be edited, or nil:
    /// names are tokens of at most 255 bytes and not among `reserved`, values
    /// visible characters without line breaks.
    public static func problem(name: String, value: String?, reserved: Set<String>) -> String? {
        if name.isEmpty || name.utf8.count > 255 || !name.utf8.allSatisfy(ASCII.isTokenChar) {
            return "\"\(name)\" is not a field name"
        }
        if reserved.contains(name.lowercased()) { return "\(name) is written by the proxy itself" }
        return value.flatMap(StaticHeaderRule.valueProblem)
    }
}
