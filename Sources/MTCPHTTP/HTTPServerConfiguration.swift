import Foundation

/// The HTTP server's configuration, read from `conf/httpd.json` at start-up with
/// Foundation's JSONDecoder (DESIGN §4: no hand-written parser). Every key has a
/// default, so `{}` is a valid file; an unknown key is an error (a typo would
/// otherwise silently leave a default in force), and every error names the file,
/// the key path and, when it can be found, the line.
public struct HTTPServerConfiguration: Hashable, Sendable {
    /// TCP port the server listens on (`listen_port`).
    public var listenPort: UInt16 = 80
    /// Directory of the static files (`document_root`), relative to the working directory.
    public var documentRoot = "www"
    /// Value of the Server field (`server_name`): a token of at most 64 bytes.
    public var serverName = "mtcp-httpd"
    /// Whether to write an access log (`access_log`).
    public var accessLog = false
    /// Its line format (`access_log_format`): `combined` or `json`.
    public var accessLogFormat = HTTPAccessLog.Format.combined
    /// The least severe event the event log shows (`log_level`).
    public var logLevel = LogLevel.info
    /// Request limits (`limits`).
    public var limits = HTTPLimits()
    /// Timeouts (`timeouts`).
    public var timeouts = Timeouts()
    /// Static file cache sizes (`cache`).
    public var cache = Cache()
    /// Pages of the document root sent for error statuses (`error_pages`: `"404": "/404.html"`).
    public var errorPages: [UInt16: String] = [:]
    /// Cache-Control, Expires and extra fields of static files by path prefix (`headers`).
    public var headerRules: [StaticHeaderRule] = []
    /// Reverse-proxy routes, tried in order (`routes`).
    public var routes: [Route] = []
    /// Upstream server pools the routes name (`upstreams`).
    public var upstreams: [UpstreamPool] = []
    /// HTTPS (`tls`); nil when the object is absent.
    public var tls: TLS?
    /// Clients whose own `X-Forwarded-For` the proxy extends instead of replacing
    /// (`trusted_proxies`, addresses of either family): front proxies of ours.
    /// Anyone else could forge it.
    public var trustedProxies: [HTTPPeerAddress] = []

    /// The event log's levels, most severe first.
    public enum LogLevel: String, Sendable, CaseIterable {
        case error, warn, info, debug
    }

    /// Timeouts, in milliseconds.
    public struct Timeouts: Hashable, Sendable {
        /// Time allowed to receive a whole request head (`header_ms`); 408 after it.
        public var headerMilliseconds = 10_000
        /// Time a keep-alive connection may stay idle between requests (`idle_ms`).
        public var idleMilliseconds = 60_000
        /// Time allowed to connect to an upstream (`upstream_connect_ms`); 502/503 after it.
        public var upstreamConnectMilliseconds = 3_000
        /// Time allowed between bytes from an upstream (`upstream_read_ms`); 504 after it.
        public var upstreamReadMilliseconds = 30_000
        /// Time an upstream may take no request bytes while some wait (`upstream_send_ms`); 504 after it.
        public var upstreamSendMilliseconds = 30_000
    }

    /// Static file cache sizes, in bytes.
    public struct Cache: Hashable, Sendable {
        /// Bytes of pre-built responses held in memory per core (`max_bytes`).
        public var maxBytes = 64 << 20
        /// Largest file held in memory (`max_file_bytes`); larger ones are streamed.
        /// 4 MiB: a file held in memory goes out by reference, with no system
        /// call and no copy into the send buffer (BENCHMARKS.md, "Bulk at equal
        /// MTU"); `max_bytes` still bounds the whole (files are taken smallest
        /// first, and one that does not fit is streamed).
        public var maxFileBytes = 4 << 20
    }

    /// HTTP over TLS on a port of its own, beside plain HTTP.
    public struct TLS: Hashable, Sendable {
        /// TCP port of HTTPS (`listen_port`).
        public var listenPort: UInt16 = 443
        /// PEM certificate chain, leaf first (`certificate`).
        public var certificate = "conf/tls/server.crt"
        /// PEM private key of the certificate (`private_key`).
        public var privateKey = "conf/tls/server.key"
        /// Oldest protocol accepted (`min_protocol`): "TLSv1.2" or "TLSv1.3".
        public var minProtocol = "TLSv1.2"
        /// TLS 1.2 cipher list in OpenSSL's syntax (`ciphers`); nil for the server's default.
        public var ciphers: String?
        /// TLS 1.3 cipher suites in OpenSSL's syntax (`ciphersuites`); nil for OpenSSL's default.
        public var cipherSuites: String?
        /// Whether clients get session tickets to resume with (`session_tickets`).
        public var sessionTickets = true
        /// Time allowed for a handshake, from the connection's start (`handshake_timeout_ms`).
        public var handshakeMilliseconds = 10_000

        public static let protocols = ["TLSv1.2", "TLSv1.3"]

        public init() {}
    }

    /// Requests whose path starts with `prefix` go to the pool named `upstream`.
    public struct Route: Hashable, Sendable {
        /// Path prefix, starting with `/` (`prefix`).
        public var prefix: String
        /// Name of an upstream pool (`upstream`).
        public var upstream: String
        /// This route's own `timeouts.upstream_connect_ms`, `upstream_read_ms` and
        /// `upstream_send_ms` (same keys in the route); nil: the server-wide value.
        public var upstreamConnectMilliseconds: Int?
        public var upstreamReadMilliseconds: Int?
        public var upstreamSendMilliseconds: Int?
        /// The Host sent upstream (`host`); nil: the client's.
        public var host: String?
        /// Whether requests get `Forwarded` (RFC 7239) too (`forwarded`).
        public var forwarded = false
        /// Fields removed from and added to requests (`request_headers`) and responses (`response_headers`).
        public var requestHeaders = HeaderEdits()
        public var responseHeaders = HeaderEdits()

        public init(prefix: String, upstream: String) {
            self.prefix = prefix
            self.upstream = upstream
        }

        /// What the proxy changes in the heads of this route's exchanges.
        public var headerPolicy: HTTPProxyHeaderPolicy {
            HTTPProxyHeaderPolicy(host: host, forwarded: forwarded, request: requestHeaders.edits,
                                  response: responseHeaders.edits)
        }
    }

    /// `{"add": {"Name": "value"}, "remove": ["Name"]}`: fields a route adds (each
    /// replacing the other side's fields of that name) and removes.
    public struct HeaderEdits: Hashable, Sendable {
        /// Added in the order of their names (a JSON object's order is not kept).
        public var add: [StaticHeaderRule.Field] = []
        public var remove: [String] = []

        public init(add: [StaticHeaderRule.Field] = [], remove: [String] = []) {
            self.add = add
            self.remove = remove
        }

        var edits: HTTPHeaderEdits { HTTPHeaderEdits(add: add.map { (name: $0.name, value: $0.value) }, remove: remove) }

        /// The first name or value that cannot be used, as (key path under `key`, message).
        func problem(at key: String, reserved: Set<String>) -> (String, String)? {
            for field in add {
                if let problem = HTTPHeaderEdits.problem(name: field.name, value: field.value, reserved: reserved) {
                    return (key + ".add." + field.name, problem)
                }
            }
            for (index, name) in remove.enumerated() {
                if let problem = HTTPHeaderEdits.problem(name: name, value: nil, reserved: reserved) {
                    return (key + ".remove[\(index)]", problem)
                }
            }
            let bytes = edits.added.count
            if bytes > HTTPHeaderEdits.maxAddedBytes {
                return (key + ".add", "its fields take \(bytes) bytes with their names; at most "
                        + "\(HTTPHeaderEdits.maxAddedBytes) fit beside the proxied head")
            }
            return nil
        }
    }

    /// A named set of upstream servers.
    public struct UpstreamPool: Hashable, Sendable {
        /// The name routes refer to (`name`).
        public var name: String
        /// The servers, as written `"198.18.0.2:8080"`, or `{"address": "198.18.0.2:8080",
        /// "weight": 2, "max_connections": 100}` (`servers`).
        public var servers: [UpstreamServer]
        /// How a server is chosen for a request (`balance`): one of `balances`.
        public var balance = "round_robin"

        /// Active health checks (`health_check`); nil when absent.
        public var healthCheck: HealthCheck?
        /// With `consistent_hash`, the request field whose value is the key
        /// (`hash_header`); nil: the client's address.
        public var hashHeader: String?
        /// Requests that wait, per core, when every server is at its
        /// `max_connections` (`queue_size`; 0: none wait, 503 at once); nil: `defaultQueueSize`.
        public var queueSize: Int?
        /// How long a request waits in that queue before its 503 (`queue_timeout_ms`);
        /// nil: `defaultQueueTimeoutMilliseconds`.
        public var queueTimeoutMilliseconds: Int?
        /// HTTPS to the servers (`tls`); nil: plain HTTP.
        public var tls: UpstreamTLS?

        /// nginx's `queue` waits 60 s by default; the queue's length is per core.
        public static let defaultQueueSize = 256
        public static let defaultQueueTimeoutMilliseconds = 60_000
        public static let queueSizes = 0...65_536

        /// Weighted round robin, the server with the fewest requests in flight
        /// for its weight, or the same server for the same key.
        public static let balances = ["round_robin", "least_outstanding", "consistent_hash"]
    }

    /// A GET of `path` to each server of a pool every `interval_ms`; a 2xx or
    /// 3xx passes. `fall` failures in a row take a server out, `rise` passes bring it back.
    public struct HealthCheck: Hashable, Sendable {
        public var path = "/"
        public var intervalMilliseconds = 5_000
        public var rise = 2
        public var fall = 3

        /// Checks run from the once-a-second sweep: no finer than a second.
        public static let intervals = 1_000...3_600_000
        public static let counts = 1...100
    }

    /// An upstream server's address (either family) and port, and its weight.
    public struct UpstreamServer: Hashable, Sendable {
        /// The address as written, without brackets ("198.18.0.2", "2001:db8::5").
        public var address: String
        /// The address itself.
        public var peer: HTTPPeerAddress
        /// The TCP port.
        public var port: UInt16
        /// Its share of the pool's requests against the others' weights (`weight`).
        public var weight = 1
        /// Requests in flight to it at most, per core (`max_connections`, as
        /// nginx's `max_conns` without a zone); nil: no limit.
        public var maxConnections: Int?

        /// Weights allowed.
        public static let weights = 1...100
        /// Limits allowed.
        public static let connectionLimits = 1...1_000_000
    }

    /// The defaults: serve `www` on port 80, no routes.
    public init() {}

    /// The static file cache's configuration.
    public var staticFileCache: StaticFileCacheConfiguration {
        StaticFileCacheConfiguration(documentRoot: documentRoot, serverName: serverName,
                                     maxMemoryBytes: cache.maxBytes, maxFileBytes: cache.maxFileBytes,
                                     headerRules: headerRules, errorPages: errorPages)
    }

    /// Reads and checks the file at `path`.
    public static func load(path: String) throws(HTTPConfigurationError) -> HTTPServerConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw HTTPConfigurationError(file: path, keyPath: "", line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, file: path)
    }

    /// Decodes and checks a configuration; `file` names it in errors.
    public static func decode(_ data: Data, file: String) throws(HTTPConfigurationError) -> HTTPServerConfiguration {
        let text = String(decoding: data, as: UTF8.self)
        let configuration: HTTPServerConfiguration
        do {
            configuration = try JSONDecoder().decode(HTTPServerConfiguration.self, from: data)
        } catch let error as DecodingError {
            throw HTTPConfigurationError(error, file: file, text: text)
        } catch {
            throw HTTPConfigurationError(file: file, keyPath: "", line: nil, message: "\(error)")
        }
        if let (path, message) = configuration.problem() {
            throw HTTPConfigurationError(file: file, keyPath: path, line: HTTPConfigurationError.line(of: path, in: text),
                                         message: message)
        }
        return configuration
    }

    /// The first entry of `headers` that cannot be used, as (key path, message).
    private func headerRulesProblem() -> (String, String)? {
        var prefixes = Set<String>()
        for (index, rule) in headerRules.enumerated() {
            let path = "headers[\(index)]"
            if !rule.prefix.hasPrefix("/") { return (path + ".prefix", "must start with \"/\"") }
            if !prefixes.insert(rule.prefix).inserted { return (path + ".prefix", "duplicate prefix \"\(rule.prefix)\"") }
            if let seconds = rule.expiresSeconds, !(0...Self.maxExpiresSeconds).contains(seconds) {
                return (path + ".expires_s", "must be 0...\(Self.maxExpiresSeconds) (ten years)")
            }
            if let value = rule.cacheControl, let problem = StaticHeaderRule.valueProblem(value) {
                return (path + ".cache_control", problem)
            }
            for field in rule.fields {
                if let problem = StaticHeaderRule.problem(name: field.name, value: field.value) {
                    return (path + ".add." + field.name, problem)
                }
            }
            let rendered = rule.renderedFields.count
            if rendered > StaticHeaderRule.maxRenderedBytes {
                return (path, "its fields take \(rendered) bytes with their names; at most "
                        + "\(StaticHeaderRule.maxRenderedBytes) fit beside the server's own")
            }
        }
        return nil
    }

    private static let maxExpiresSeconds = 10 * 365 * 86_400
    /// Upstream timeouts, in milliseconds: at most a day.
    private static let upstreamTimeoutRange = 1...86_400_000
    private static let upstreamTimeoutMessage = "must be 1...86400000 milliseconds (a day)"

    /// The first value that decodes but makes no sense, as (key path, message).
    private func problem() -> (String, String)? {
        if documentRoot.isEmpty { return ("document_root", "must not be empty") }
        if serverName.isEmpty || serverName.utf8.count > 64 || !serverName.utf8.allSatisfy(ASCII.isTokenChar) {
            return ("server_name", "must be 1 to 64 token characters (letters, digits, !#$%&'*+-.^_`|~)")
        }
        let positive: [(String, Int)] = [
            ("limits.max_request_line", limits.maxRequestLineLength), ("limits.max_header_count", limits.maxHeaderCount),
            ("limits.max_header_bytes", limits.maxHeaderBytes), ("limits.max_body_bytes", limits.maxBodyBytes),
            ("limits.max_chunk_line", limits.maxChunkLineLength), ("timeouts.header_ms", timeouts.headerMilliseconds),
            ("timeouts.idle_ms", timeouts.idleMilliseconds),
            ("cache.max_bytes", cache.maxBytes),
            ("cache.max_file_bytes", cache.maxFileBytes),
        ]
        for (path, value) in positive where value <= 0 { return (path, "must be positive") }
        let upstreamTimeouts = [("timeouts.upstream_connect_ms", timeouts.upstreamConnectMilliseconds),
                                ("timeouts.upstream_read_ms", timeouts.upstreamReadMilliseconds),
                                ("timeouts.upstream_send_ms", timeouts.upstreamSendMilliseconds)]
        for (path, value) in upstreamTimeouts where !Self.upstreamTimeoutRange.contains(value) {
            return (path, Self.upstreamTimeoutMessage)
        }
        if let tls {
            if tls.listenPort == listenPort { return ("tls.listen_port", "must differ from listen_port") }
            if !TLS.protocols.contains(tls.minProtocol) {
                return ("tls.min_protocol", "must be one of " + TLS.protocols.joined(separator: ", "))
            }
            if tls.handshakeMilliseconds <= 0 { return ("tls.handshake_timeout_ms", "must be positive") }
            if tls.certificate.isEmpty { return ("tls.certificate", "must not be empty") }
            if tls.privateKey.isEmpty { return ("tls.private_key", "must not be empty") }
        }
        if limits.maxHeadLength > Int(UInt32.max) { return ("limits", "a head this large cannot be parsed") }
        var names = Set<String>()
        for (index, pool) in upstreams.enumerated() {
            if pool.name.isEmpty { return ("upstreams[\(index)].name", "must not be empty") }
            // It labels /metrics samples and event log lines, which a CR or LF would break.
            if pool.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                return ("upstreams[\(index)].name", "must not contain control characters")
            }
            if !names.insert(pool.name).inserted { return ("upstreams[\(index)].name", "duplicate pool \"\(pool.name)\"") }
            if pool.servers.isEmpty { return ("upstreams[\(index)].servers", "must list at least one server") }
            if !UpstreamPool.balances.contains(pool.balance) {
                return ("upstreams[\(index)].balance", "must be one of " + UpstreamPool.balances.joined(separator: ", "))
            }
            if let header = pool.hashHeader {
                if pool.balance != "consistent_hash" {
                    return ("upstreams[\(index)].hash_header", "is only used with \"balance\": \"consistent_hash\"")
                }
                if header.isEmpty || !header.utf8.allSatisfy(ASCII.isTokenChar) {
                    return ("upstreams[\(index)].hash_header", "\"\(header)\" is not a field name")
                }
            }
            if let check = pool.healthCheck {
                let key = "upstreams[\(index)].health_check"
                if !check.path.hasPrefix("/") || check.path.utf8.count > 1024
                    || !check.path.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
                    return (key + ".path", "must be a path of up to 1024 visible ASCII characters, starting with \"/\"")
                }
                let intervals = HealthCheck.intervals, counts = HealthCheck.counts
                if !intervals.contains(check.intervalMilliseconds) {
                    return (key + ".interval_ms", "must be \(intervals.lowerBound)...\(intervals.upperBound)")
                }
                if !counts.contains(check.rise) { return (key + ".rise", "must be \(counts.lowerBound)...\(counts.upperBound)") }
                if !counts.contains(check.fall) { return (key + ".fall", "must be \(counts.lowerBound)...\(counts.upperBound)") }
            }
            let weights = UpstreamServer.weights
            if let server = pool.servers.firstIndex(where: { !weights.contains($0.weight) }) {
                return ("upstreams[\(index)].servers[\(server)].weight",
                        "must be \(weights.lowerBound)...\(weights.upperBound)")
            }
            if let problem = pool.queueProblem(at: "upstreams[\(index)]") { return problem }
            if let problem = pool.tls?.problem(at: "upstreams[\(index)].tls") { return problem }
        }
        if let problem = headerRulesProblem() { return problem }
        for (code, path) in errorPages.sorted(by: { $0.key < $1.key }) {
            let key = "error_pages.\(code)"
            guard let status = HTTPErrorResponses.statuses.first(where: { $0.rawValue == code }), status != .noContent else {
                let codes = HTTPErrorResponses.statuses.filter { $0 != .noContent }.map { String($0.rawValue) }
                return (key, "not an error status the server sends (" + codes.joined(separator: ", ") + ")")
            }
            if !path.hasPrefix("/") { return (key, "must be a path of the document root, starting with \"/\"") }
        }
        for (index, route) in routes.enumerated() {
            if !route.prefix.hasPrefix("/") { return ("routes[\(index)].prefix", "must start with \"/\"") }
            if !names.contains(route.upstream) {
                return ("routes[\(index)].upstream", "no upstream pool is named \"\(route.upstream)\"")
            }
            let timeouts = [("upstream_connect_ms", route.upstreamConnectMilliseconds),
                            ("upstream_read_ms", route.upstreamReadMilliseconds),
                            ("upstream_send_ms", route.upstreamSendMilliseconds)]
            for case (let key, let value?) in timeouts where !Self.upstreamTimeoutRange.contains(value) {
                return ("routes[\(index)].\(key)", Self.upstreamTimeoutMessage)
            }
            if let host = route.host, let problem = HTTPProxyHeaderPolicy.hostProblem(host) {
                return ("routes[\(index)].host", problem)
            }
            if let problem = route.requestHeaders.problem(at: "routes[\(index)].request_headers",
                                                          reserved: HTTPProxyHeaderPolicy.requestNamesOfTheProxy)
                ?? route.responseHeaders.problem(at: "routes[\(index)].response_headers",
                                                 reserved: HTTPProxyHeaderPolicy.responseNamesOfTheProxy) {
                return problem
            }
        }
        return nil
    }
}

extension HTTPServerConfiguration.UpstreamPool {
    /// The first of the pool's connection limits or queue settings that cannot
    /// be used, as (key path under `key`, message).
    func queueProblem(at key: String) -> (String, String)? {
        let limits = HTTPServerConfiguration.UpstreamServer.connectionLimits
        if let server = servers.firstIndex(where: { $0.maxConnections.map { !limits.contains($0) } ?? false }) {
            return (key + ".servers[\(server)].max_connections", "must be \(limits.lowerBound)...\(limits.upperBound)")
        }
        // Listed twice, a server would take two shares of requests in flight (its
        // listings merge, limits added up as weights are): refused, not doubled silently.
        if servers.contains(where: { $0.maxConnections != nil }) {
            for (index, server) in servers.enumerated() {
                guard let first = servers[..<index].firstIndex(where: { $0.peer == server.peer && $0.port == server.port })
                else { continue }
                let written = server.peer.isIPv4 ? server.address : "[\(server.address)]"
                return (key + ".servers[\(index)]", "\(written):\(server.port) is listed already (servers[\(first)]); "
                        + "with max_connections in the pool, list a server once (its weight gives it a larger share)")
            }
        }
        if let size = queueSize, !Self.queueSizes.contains(size) {
            return (key + ".queue_size", "must be \(Self.queueSizes.lowerBound)...\(Self.queueSizes.upperBound)")
        }
        if let timeout = queueTimeoutMilliseconds, !(1...86_400_000).contains(timeout) {
            return (key + ".queue_timeout_ms", "must be 1...86400000 milliseconds (a day)")
        }
        // A queue of a pool without limits would never hold anything: a typo, or a forgotten limit.
        if servers.allSatisfy({ $0.maxConnections == nil }) {
            if queueSize != nil { return (key + ".queue_size", "is only used when a server has max_connections") }
            if queueTimeoutMilliseconds != nil {
                return (key + ".queue_timeout_ms", "is only used when a server has max_connections")
            }
        }
        return nil
    }
}

/// Why a configuration file was refused.
public struct HTTPConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The file's path.
    public var file: String
    /// Dotted key path of the offending value (`limits.max_body_bytes`, `routes[0].prefix`);
    /// empty for errors of the whole file.
    public var keyPath: String
    /// Line of the key in the file, when it could be found.
    public var line: Int?
    /// What is wrong.
    public var message: String

    /// `file:line: key path: message`.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if !keyPath.isEmpty { text += ": \(keyPath)" }
        return text + ": " + message
    }

    /// A value of `file` that decoded but did not work when used (a certificate
    /// that cannot be loaded): the key's line is looked up in the file.
    public static func unusable(file: String, keyPath: String, message: String) -> HTTPConfigurationError {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return HTTPConfigurationError(file: file, keyPath: keyPath, line: line(of: keyPath, in: text), message: message)
    }

    init(file: String, keyPath: String, line: Int?, message: String) {
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.message = message
    }

    init(_ error: DecodingError, file: String, text: String) {
        let context: DecodingError.Context
        var message: String
        switch error {
        case .typeMismatch(let type, let errorContext):
            context = errorContext
            message = "expected \(Self.describe(type))"
        case .valueNotFound(let type, let errorContext):
            context = errorContext
            message = "expected \(Self.describe(type)), found null"
        case .keyNotFound(let key, let errorContext):
            context = DecodingError.Context(codingPath: errorContext.codingPath + [key], debugDescription: "")
            message = "missing"
        case .dataCorrupted(let errorContext):
            context = errorContext
            message = errorContext.debugDescription
            // Syntax errors carry their position in the underlying error.
            if let underlying = errorContext.underlyingError {
                let detail = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(underlying)"
                message += " (\(detail))"
            }
        @unknown default:
            context = DecodingError.Context(codingPath: [], debugDescription: "")
            message = "\(error)"
        }
        let path = Self.keyPath(context.codingPath)
        self.init(file: file, keyPath: path, line: Self.line(of: path, in: text), message: message)
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is UInt16.Type: "a number"
        default: "\(type)"
        }
    }

    static func keyPath(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += (path.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return path
    }

    /// The line where the last key of `path` appears, looking for each key of the
    /// path in turn after the previous one (JSON allows the same key name at several
    /// depths, so the whole path narrows the search), and for an index, from the
    /// start of that element of the array (`servers[2].weight` is the third
    /// server's, not the first that has one).
    /// A missing key is not in the text: its closest enclosing key found is used.
    static func line(of path: String, in text: String) -> Int? {
        let components = path.split(whereSeparator: { $0 == "." || $0 == "[" })
        guard components.contains(where: { !$0.hasSuffix("]") }) else { return nil }
        var position = text.startIndex
        var foundAny = false
        for component in components {
            if component.hasSuffix("]") {
                guard foundAny, let index = Int(component.dropLast()),
                      let element = elementStart(index, after: position, in: text) else { continue }
                position = element
                continue
            }
            guard let found = text.range(of: "\"\(component)\"", range: position..<text.endIndex) else { break }
            position = found.lowerBound
            foundAny = true
        }
        guard foundAny else { return nil }
        return text[..<position].reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
    }

    /// Where element `index` of the first array that opens after `position`
    /// begins: its commas counted at the array's own depth, strings skipped.
    private static func elementStart(_ index: Int, after position: String.Index, in text: String) -> String.Index? {
        let bytes = text.utf8
        guard var cursor = bytes[position...].firstIndex(of: UInt8(ascii: "[")) else { return nil }
        cursor = bytes.index(after: cursor)
        var depth = 0, commas = 0, inString = false, escaped = false
        var start: String.Index? = index == 0 ? cursor : nil
        while cursor < bytes.endIndex {
            let byte = bytes[cursor]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if depth == 0 { return nil }  // the array ended first
                    depth -= 1
                case UInt8(ascii: ",") where depth == 0:
                    commas += 1
                    if commas == index { start = bytes.index(after: cursor) }
                default: break
                }
            }
            if let found = start {
                // The element itself, past the blanks before it.
                var first = found
                while first < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[first]) {
                    first = bytes.index(after: first)
                }
                return first
            }
            cursor = bytes.index(after: cursor)
        }
        return nil
    }
}

// MARK: Decoding

/// Any key, to list those present in an object and refuse unknown ones.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Throws for the first key of this object that `Keys` does not know.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_: Keys.Type) throws {
        let container = try container(keyedBy: AnyKey.self)
        for key in container.allKeys where Keys(stringValue: key.stringValue) == nil {
            let known = Keys.allCases.map(\.stringValue).joined(separator: ", ")
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key],
                                                    debugDescription: "unknown key (known keys: \(known))"))
        }
    }
}

extension HTTPServerConfiguration: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case listenPort = "listen_port", documentRoot = "document_root", serverName = "server_name"
        case accessLog = "access_log", accessLogFormat = "access_log_format", logLevel = "log_level", limits, timeouts, cache, headers, errorPages = "error_pages", routes, upstreams, tls
        case trustedProxies = "trusted_proxies"
    }

    /// Decodes the file's top-level object; absent keys keep their defaults.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        listenPort = try container.decodePort(forKey: .listenPort, at: decoder.codingPath) ?? listenPort
        documentRoot = try container.decodeIfPresent(String.self, forKey: .documentRoot) ?? documentRoot
        serverName = try container.decodeIfPresent(String.self, forKey: .serverName) ?? serverName
        accessLog = try container.decodeIfPresent(Bool.self, forKey: .accessLog) ?? accessLog
        accessLogFormat = try container.decodeChoice(forKey: .accessLogFormat, at: decoder.codingPath) ?? accessLogFormat
        logLevel = try container.decodeChoice(forKey: .logLevel, at: decoder.codingPath) ?? logLevel
        limits = try container.decodeIfPresent(DecodedLimits.self, forKey: .limits)?.limits ?? limits
        timeouts = try container.decodeIfPresent(Timeouts.self, forKey: .timeouts) ?? timeouts
        cache = try container.decodeIfPresent(Cache.self, forKey: .cache) ?? cache
        headerRules = try container.decodeIfPresent([StaticHeaderRule].self, forKey: .headers) ?? headerRules
        for (code, path) in try container.decodeIfPresent([String: String].self, forKey: .errorPages) ?? [:] {
            guard let status = UInt16(code) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [Keys.errorPages],
                                                        debugDescription: "\"\(code)\" is not a status code"))
            }
            errorPages[status] = path
        }
        routes = try container.decodeIfPresent([Route].self, forKey: .routes) ?? routes
        upstreams = try container.decodeIfPresent([UpstreamPool].self, forKey: .upstreams) ?? upstreams
        tls = try container.decodeIfPresent(TLS.self, forKey: .tls)
        trustedProxies = try container.decodeIfPresent([TrustedProxy].self, forKey: .trustedProxies)?
            .map(\.address) ?? trustedProxies
    }
}

/// One entry of `trusted_proxies`: `"a.b.c.d"` or an IPv6 address (`"2001:db8::7"`).
private struct TrustedProxy: Decodable {
    let address: HTTPPeerAddress

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = HTTPPeerAddress(text: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "\"\(text)\" is not an IPv4 or IPv6 address"))
        }
        self.address = address
    }
}

extension HTTPPeerAddress {
    /// An address in text, read by inet_pton: dotted-decimal IPv4, else IPv6
    /// (an IPv4-mapped one is taken as the IPv4 address it holds).
    init?(text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(ipv4: UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        self = withUnsafeBytes(of: v6) { bytes in
            HTTPPeerAddress(ipv6High: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                            low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }
}

extension KeyedDecodingContainer {
    /// A TCP port, decoded as Int and range-checked here: an out-of-range UInt16
    /// is reported by the decoder as invalid JSON, without saying where.
    fileprivate func decodePort(forKey key: Key, at codingPath: [any CodingKey]) throws -> UInt16? {
        guard let port = try decodeIfPresent(Int.self, forKey: key) else { return nil }
        guard let value = UInt16(exactly: port), value > 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "must be 1...65535"))
        }
        return value
    }

    /// A string that must name one of `Choice`'s cases; nil when absent.
    fileprivate func decodeChoice<Choice: RawRepresentable<String> & CaseIterable>(
        forKey key: Key, at codingPath: [any CodingKey]
    ) throws -> Choice? {
        guard let name = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let choice = Choice(rawValue: name) else {
            let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "must be one of \(names)"))
        }
        return choice
    }
}

extension HTTPServerConfiguration.TLS: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case listenPort = "listen_port", certificate, privateKey = "private_key", minProtocol = "min_protocol"
        case ciphers, cipherSuites = "ciphersuites", sessionTickets = "session_tickets"
        case handshakeTimeout = "handshake_timeout_ms"
    }

    /// Decodes `tls`; absent keys keep their defaults.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        listenPort = try container.decodePort(forKey: .listenPort, at: decoder.codingPath) ?? listenPort
        certificate = try container.decodeIfPresent(String.self, forKey: .certificate) ?? certificate
        privateKey = try container.decodeIfPresent(String.self, forKey: .privateKey) ?? privateKey
        minProtocol = try container.decodeIfPresent(String.self, forKey: .minProtocol) ?? minProtocol
        ciphers = try container.decodeIfPresent(String.self, forKey: .ciphers)
        cipherSuites = try container.decodeIfPresent(String.self, forKey: .cipherSuites)
        sessionTickets = try container.decodeIfPresent(Bool.self, forKey: .sessionTickets) ?? sessionTickets
        handshakeMilliseconds = try container.decodeIfPresent(Int.self, forKey: .handshakeTimeout)
            ?? handshakeMilliseconds
    }
}

/// `HTTPLimits` as the file spells it; kept apart so that the limits type itself
/// stays free of Foundation and coding concerns.
private struct DecodedLimits: Decodable {
    var limits = HTTPLimits()

    private enum Keys: String, CodingKey, CaseIterable {
        case maxRequestLine = "max_request_line", maxHeaderCount = "max_header_count"
        case maxHeaderBytes = "max_header_bytes", maxBodyBytes = "max_body_bytes"
        case maxChunkLine = "max_chunk_line", lengthRequired = "length_required"
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        limits.maxRequestLineLength = try container.decodeIfPresent(Int.self, forKey: .maxRequestLine)
            ?? limits.maxRequestLineLength
        limits.maxHeaderCount = try container.decodeIfPresent(Int.self, forKey: .maxHeaderCount) ?? limits.maxHeaderCount
        limits.maxHeaderBytes = try container.decodeIfPresent(Int.self, forKey: .maxHeaderBytes) ?? limits.maxHeaderBytes
        limits.maxBodyBytes = try container.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? limits.maxBodyBytes
        limits.maxChunkLineLength = try container.decodeIfPresent(Int.self, forKey: .maxChunkLine)
            ?? limits.maxChunkLineLength
        limits.lengthRequired = try container.decodeIfPresent(Bool.self, forKey: .lengthRequired) ?? limits.lengthRequired
    }
}

extension HTTPServerConfiguration.Timeouts: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case header = "header_ms", idle = "idle_ms", upstreamConnect = "upstream_connect_ms"
        case upstreamRead = "upstream_read_ms", upstreamSend = "upstream_send_ms"
    }

    /// Decodes `timeouts`; absent keys keep their defaults.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        headerMilliseconds = try container.decodeIfPresent(Int.self, forKey: .header) ?? headerMilliseconds
        idleMilliseconds = try container.decodeIfPresent(Int.self, forKey: .idle) ?? idleMilliseconds
        upstreamConnectMilliseconds = try container.decodeIfPresent(Int.self, forKey: .upstreamConnect)
            ?? upstreamConnectMilliseconds
        upstreamReadMilliseconds = try container.decodeIfPresent(Int.self, forKey: .upstreamRead)
            ?? upstreamReadMilliseconds
        upstreamSendMilliseconds = try container.decodeIfPresent(Int.self, forKey: .upstreamSend)
            ?? upstreamSendMilliseconds
    }
}

extension HTTPServerConfiguration.Cache: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case maxBytes = "max_bytes", maxFileBytes = "max_file_bytes"
    }

    /// Decodes `cache`; absent keys keep their defaults.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        maxBytes = try container.decodeIfPresent(Int.self, forKey: .maxBytes) ?? maxBytes
        maxFileBytes = try container.decodeIfPresent(Int.self, forKey: .maxFileBytes) ?? maxFileBytes
    }
}

extension StaticHeaderRule: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case prefix, cacheControl = "cache_control", expiresSeconds = "expires_s", add
    }

    /// Decodes an entry of `headers`; `prefix` is required. The fields of `add`
    /// are sent in the order of their names (a JSON object's order is not kept).
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        self.init(prefix: try container.decode(String.self, forKey: .prefix),
                  cacheControl: try container.decodeIfPresent(String.self, forKey: .cacheControl),
                  expiresSeconds: try container.decodeIfPresent(Int.self, forKey: .expiresSeconds),
                  fields: (try container.decodeIfPresent([String: String].self, forKey: .add) ?? [:])
                      .sorted { $0.key < $1.key }.map { Field(name: $0.key, value: $0.value) })
    }
}

extension HTTPServerConfiguration.Route: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case prefix, upstream, upstreamConnect = "upstream_connect_ms", upstreamRead = "upstream_read_ms"
        case upstreamSend = "upstream_send_ms", host, forwarded
        case requestHeaders = "request_headers", responseHeaders = "response_headers"
    }

    /// Decodes a route; `prefix` and `upstream` are required.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        prefix = try container.decode(String.self, forKey: .prefix)
        upstream = try container.decode(String.self, forKey: .upstream)
        upstreamConnectMilliseconds = try container.decodeIfPresent(Int.self, forKey: .upstreamConnect)
        upstreamReadMilliseconds = try container.decodeIfPresent(Int.self, forKey: .upstreamRead)
        upstreamSendMilliseconds = try container.decodeIfPresent(Int.self, forKey: .upstreamSend)
        host = try container.decodeIfPresent(String.self, forKey: .host)
        forwarded = try container.decodeIfPresent(Bool.self, forKey: .forwarded) ?? forwarded
        requestHeaders = try container.decodeIfPresent(HTTPServerConfiguration.HeaderEdits.self, forKey: .requestHeaders) ?? requestHeaders
        responseHeaders = try container.decodeIfPresent(HTTPServerConfiguration.HeaderEdits.self, forKey: .responseHeaders) ?? responseHeaders
    }
}

extension HTTPServerConfiguration.HeaderEdits: Decodable {
    private enum Keys: String, CodingKey, CaseIterable { case add, remove }

    /// Decodes `request_headers` or `response_headers`; both keys are optional.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        add = (try container.decodeIfPresent([String: String].self, forKey: .add) ?? [:])
            .sorted { $0.key < $1.key }.map { StaticHeaderRule.Field(name: $0.key, value: $0.value) }
        remove = try container.decodeIfPresent([String].self, forKey: .remove) ?? []
    }
}

extension HTTPServerConfiguration.UpstreamPool: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case name, servers, balance, healthCheck = "health_check", hashHeader = "hash_header"
        case queueSize = "queue_size", queueTimeout = "queue_timeout_ms", tls
    }

    /// Decodes a pool; `name` and `servers` are required.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        name = try container.decode(String.self, forKey: .name)
        servers = try container.decode([HTTPServerConfiguration.UpstreamServer].self, forKey: .servers)
        balance = try container.decodeIfPresent(String.self, forKey: .balance) ?? balance
        healthCheck = try container.decodeIfPresent(HTTPServerConfiguration.HealthCheck.self, forKey: .healthCheck)
        hashHeader = try container.decodeIfPresent(String.self, forKey: .hashHeader)
        queueSize = try container.decodeIfPresent(Int.self, forKey: .queueSize)
        queueTimeoutMilliseconds = try container.decodeIfPresent(Int.self, forKey: .queueTimeout)
        tls = try HTTPServerConfiguration.UpstreamTLS.decode(from: container, forKey: .tls)
    }
}

extension HTTPServerConfiguration.HealthCheck: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case path, interval = "interval_ms", rise, fall
    }

    /// Decodes `health_check`; absent keys keep their defaults.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        path = try container.decodeIfPresent(String.self, forKey: .path) ?? path
        intervalMilliseconds = try container.decodeIfPresent(Int.self, forKey: .interval) ?? intervalMilliseconds
        rise = try container.decodeIfPresent(Int.self, forKey: .rise) ?? rise
        fall = try container.decodeIfPresent(Int.self, forKey: .fall) ?? fall
    }
}

extension HTTPServerConfiguration.UpstreamServer: Decodable {
    private enum Keys: String, CodingKey, CaseIterable { case address, weight, maxConnections = "max_connections" }

    /// Decodes `"a.b.c.d:port"` or `"[ipv6]:port"` (RFC 3986's brackets), or an
    /// object with that as `address`, a `weight` and a `max_connections`.
    public init(from decoder: any Decoder) throws {
        guard let text = try? decoder.singleValueContainer().decode(String.self) else {
            try decoder.rejectUnknownKeys(Keys.self)
            let container = try decoder.container(keyedBy: Keys.self)
            self = try container.decode(Self.self, forKey: .address)
            weight = try container.decodeIfPresent(Int.self, forKey: .weight) ?? weight
            maxConnections = try container.decodeIfPresent(Int.self, forKey: .maxConnections)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0,
              let (address, peer) = Self.address(text[..<colon]) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription:
                "\"\(text)\" is not an address and port like \"198.18.0.2:8080\" or \"[2001:db8::5]:8080\""))
        }
        self.address = address
        self.peer = peer
        self.port = port
    }

    /// "a.b.c.d" or "[ipv6]", read by inet_pton: the address without brackets and its value.
    private static func address(_ text: Substring) -> (String, HTTPPeerAddress)? {
        if text.first == "[" && text.last == "]" {
            let inner = String(text.dropFirst().dropLast())
            // An IPv4 address in brackets, or IPv4-mapped, would reach an IPv4
            // server: written as IPv4 it is clearer.
            guard inner.contains(":"), let peer = HTTPPeerAddress(text: inner), !peer.isIPv4 else { return nil }
            return (inner, peer)
        }
        guard !text.contains(":"), let peer = HTTPPeerAddress(text: String(text)) else { return nil }
        return (String(text), peer)
    }
}
