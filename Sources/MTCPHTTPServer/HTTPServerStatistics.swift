import MTCPRuntime

/// Counters of one core's HTTP server, for the statistics output and tests.
public struct HTTPServerStatistics: Sendable, Equatable {
    public var connectionsAccepted: UInt64 = 0
    public var requests: UInt64 = 0
    public var responses2xx: UInt64 = 0
    public var responses3xx: UInt64 = 0
    public var responses4xx: UInt64 = 0
    public var responses5xx: UInt64 = 0
    /// Requests refused by the parser (400, 411, 413, 414, 431, 501, 505).
    public var malformedRequests: UInt64 = 0
    /// Connections answered 408 because a request head took too long.
    public var headerTimeouts: UInt64 = 0
    /// Kept-alive connections closed for idleness, or clients that stopped reading.
    public var idleTimeouts: UInt64 = 0
    /// Files that could not be opened for streaming (changed on disk: 500).
    public var fileErrors: UInt64 = 0
    /// TLS handshakes completed, and how many of them resumed a session.
    public var tlsHandshakes: UInt64 = 0
    public var tlsResumed: UInt64 = 0
    /// TLS connections that failed during the handshake (bad hello, no common
    /// protocol or cipher, a bad record) or after it (a bad record).
    public var tlsHandshakeFailures: UInt64 = 0
    public var tlsProtocolErrors: UInt64 = 0
    /// TLS connections closed because the handshake took too long.
    public var tlsHandshakeTimeouts: UInt64 = 0

    public init() {}

    /// Each counter's Prometheus name (`mtcp_NAME_total`) and help.
    static let fields: [(name: String, help: String, keyPath: KeyPath<HTTPServerStatistics, UInt64> & Sendable)] = [
        ("http_connections_accepted", "HTTP and HTTPS connections accepted", \.connectionsAccepted),
        ("http_requests", "Complete request heads answered", \.requests),
        ("http_responses_2xx", "Responses with a 2xx status", \.responses2xx),
        ("http_responses_3xx", "Responses with a 3xx status", \.responses3xx),
        ("http_responses_4xx", "Responses with a 4xx status", \.responses4xx),
        ("http_responses_5xx", "Responses with a 5xx status", \.responses5xx),
        ("http_malformed_requests", "Requests refused by the parser", \.malformedRequests),
        ("http_header_timeouts", "Connections answered 408", \.headerTimeouts),
        ("http_idle_timeouts", "Connections closed for idleness", \.idleTimeouts),
        ("http_file_errors", "Files that could not be opened for streaming", \.fileErrors),
        ("http_tls_handshakes", "TLS handshakes completed", \.tlsHandshakes),
        ("http_tls_resumed", "TLS handshakes that resumed a session", \.tlsResumed),
        ("http_tls_handshake_failures", "TLS handshakes that failed", \.tlsHandshakeFailures),
        ("http_tls_protocol_errors", "TLS connections failed after the handshake", \.tlsProtocolErrors),
        ("http_tls_handshake_timeouts", "TLS connections closed for a handshake too slow", \.tlsHandshakeTimeouts),
    ]

    /// The counters for the statistics board.
    public var counters: [ApplicationCounter] {
        Self.fields.map { ApplicationCounter(name: $0.name, help: $0.help, value: self[keyPath: $0.keyPath]) }
    }

    mutating func count(response status: UInt16) {
        switch status / 100 {
        case 2: responses2xx &+= 1
        case 3: responses3xx &+= 1
        case 4: responses4xx &+= 1
        default: responses5xx &+= 1
        }
    }
}
