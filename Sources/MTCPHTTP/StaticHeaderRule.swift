/// Response fields for the static files under a path prefix (httpd.json's
/// `headers`): Cache-Control, Expires and fields of the operator's choosing
/// (nginx's `expires` and `add_header`). They are written into the pre-built
/// responses at load, so serving them costs nothing per request.
public struct StaticHeaderRule: Hashable, Sendable {
    /// Path prefix, matched on whole segments like a route's (`/assets` takes
    /// `/assets` and `/assets/x`, not `/assets-old`). The longest matching prefix
    /// is the one rule a file gets.
    public var prefix: String
    /// Cache-Control value; without one, `expiresSeconds` gives `max-age=N`.
    public var cacheControl: String?
    /// Expires = the response's Date + this many seconds (kept current as Date is).
    public var expiresSeconds: Int?
    /// Fields added as they are, in order.
    public var fields: [Field]

    public struct Field: Hashable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Fields the server writes itself, which a rule may not add: they would
    /// contradict the server's own (framing, validators, connection management).
    public static let reservedNames: Set<String> = [
        "date", "server", "content-type", "content-length", "content-encoding", "content-range", "transfer-encoding",
        "connection", "keep-alive", "etag", "last-modified", "accept-ranges", "vary", "location", "allow",
        "cache-control", "expires",
    ]

    public init(prefix: String, cacheControl: String? = nil, expiresSeconds: Int? = nil, fields: [Field] = []) {
        self.prefix = prefix
        self.cacheControl = cacheControl
        self.expiresSeconds = expiresSeconds
        self.fields = fields
    }

    /// The rule for the URL path `key`: the one with the longest matching prefix.
    static func matching(_ key: [UInt8], in rules: [StaticHeaderRule]) -> StaticHeaderRule? {
        var best: StaticHeaderRule?
        for rule in rules where rule.matches(key) && rule.prefix.utf8.count > (best?.prefix.utf8.count ?? -1) {
            best = rule
        }
        return best
    }

    private func matches(_ key: [UInt8]) -> Bool {
        let prefix = Array(prefix.utf8)
        guard key.count >= prefix.count, key.prefix(prefix.count).elementsEqual(prefix) else { return false }
        return prefix.last == ASCII.slash || key.count == prefix.count || key[prefix.count] == ASCII.slash
    }

    /// The most bytes a rule's field lines may take. They are written into the
    /// 304 and 206 heads built per request in a connection's scratch buffer
    /// (`StaticFileCache.minimumScratchBytes`), beside the server's own fields:
    /// the longest of those heads without a rule stays under 600 bytes.
    public static let maxRenderedBytes = 400

    /// The field lines the rule adds (Expires aside: it is dated per second).
    var renderedFields: [UInt8] {
        var lines = ""
        if let value = cacheControl ?? expiresSeconds.map({ "max-age=\($0)" }) {
            lines += "Cache-Control: \(value)\r\n"
        }
        for field in fields { lines += "\(field.name): \(field.value)\r\n" }
        return Array(lines.utf8)
    }

    /// Why a name or value cannot be sent, or nil: names are tokens, not among
    /// `reservedNames`; values are visible characters and spaces (no CR or LF).
    public static func problem(name: String, value: String) -> String? {
        if name.isEmpty || !name.utf8.allSatisfy(ASCII.isTokenChar) { return "\"\(name)\" is not a field name" }
        if reservedNames.contains(name.lowercased()) {
            return "\(name) is set by the server (use cache_control / expires_s for caching)"
        }
        return valueProblem(value)
    }

    /// Why a field value cannot be sent, or nil.
    public static func valueProblem(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty, bytes.allSatisfy(ASCII.isFieldValueChar),
              !ASCII.isWhitespace(bytes.first!), !ASCII.isWhitespace(bytes.last!)
        else { return "\"\(value)\" is not a field value (visible characters, inner spaces, no line breaks)" }
        return nil
    }
}
