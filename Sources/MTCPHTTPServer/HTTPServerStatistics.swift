import MTCP

/// Counters of one core's HTTP server, for the statistics output and tests.
public struct HTTPServerStatistics: Sendable, Equatable {
    public var connectionsAccepted: UInt64 = 0
    public var requests: UInt64 = 0
    /// Tunnels opened: 101 Switching Protocols relayed from an upstream (`HTTPServer+Tunnel`).
    public var proxyTunnels: UInt64 = 0
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
    /// Connections reset by a reload: they still sent from cache memory it freed.
    public var reloadResets: UInt64 = 0
    /// TLS handshakes completed, and how many of them resumed a session.
    public var tlsHandshakes: UInt64 = 0
    public var tlsResumed: UInt64 = 0
    /// TLS connections that failed during the handshake (bad hello, no common
    /// protocol or cipher, a bad record) or after it (a bad record).
    public var tlsHandshakeFailures: UInt64 = 0
    public var tlsProtocolErrors: UInt64 = 0
    /// TLS connections closed because the handshake took too long.
    public var tlsHandshakeTimeouts: UInt64 = 0
    /// Proxied requests sent to a second server after the first failed before
    /// any response byte (idempotent requests only, once each).
    public var proxyRetries: UInt64 = 0
    /// Upstream connections (proxied or health checks) that could not be opened
    /// for want of a local socket, connection slot or port: not the server's failure.
    public var upstreamLocalShortages: UInt64 = 0
    /// HTTPS upstream connections: handshakes completed, those that resumed a
    /// session, and connections whose TLS failed (a refused certificate, no
    /// common protocol, a bad record): each also a connect failure when in the handshake.
    public var upstreamTLSHandshakes: UInt64 = 0
    public var upstreamTLSResumed: UInt64 = 0
    public var upstreamTLSFailures: UInt64 = 0
    /// HTTPS upstream connections whose end of stream (a FIN without
    /// close_notify) would have ended a close-delimited body: the client is
    /// reset rather than shown a response that may be cut short.
    public var upstreamTLSTruncations: UInt64 = 0
    /// Answers of the health path (`/healthz`): 200 while serving, 503 while
    /// draining. Not in the response classes.
    public var healthOK: UInt64 = 0
    public var healthDraining: UInt64 = 0

    public init() {}

    /// Each counter's Prometheus name (`mtcp_NAME_total`) and help.
    static let counterFields: [CounterField<HTTPServerStatistics>] = [
        .init(name: "http_connections_accepted", help: "HTTP and HTTPS connections accepted", keyPath: \.connectionsAccepted),
        .init(name: "http_requests", help: "Complete request heads answered", keyPath: \.requests),
        .init(name: "http_proxy_tunnels", help: "Upgraded exchanges tunnelled (101 Switching Protocols relayed)",
              keyPath: \.proxyTunnels),
        .init(name: "http_responses_2xx", help: "Responses with a 2xx status", keyPath: \.responses2xx),
        .init(name: "http_responses_3xx", help: "Responses with a 3xx status", keyPath: \.responses3xx),
        .init(name: "http_responses_4xx", help: "Responses with a 4xx status", keyPath: \.responses4xx),
        .init(name: "http_responses_5xx", help: "Responses with a 5xx status", keyPath: \.responses5xx),
        .init(name: "http_malformed_requests", help: "Requests refused by the parser", keyPath: \.malformedRequests),
        .init(name: "http_header_timeouts", help: "Connections answered 408", keyPath: \.headerTimeouts),
        .init(name: "http_idle_timeouts", help: "Connections closed for idleness", keyPath: \.idleTimeouts),
        .init(name: "http_reload_resets", help: "Connections reset by a reload, still sending from the cache memory it freed",
              keyPath: \.reloadResets),
        .init(name: "http_file_errors", help: "Streamed files that could not be opened, or shrank or failed while sent", keyPath: \.fileErrors),
        .init(name: "http_tls_handshakes", help: "TLS handshakes completed", keyPath: \.tlsHandshakes),
        .init(name: "http_tls_resumed", help: "TLS handshakes that resumed a session", keyPath: \.tlsResumed),
        .init(name: "http_tls_handshake_failures", help: "TLS handshakes that failed", keyPath: \.tlsHandshakeFailures),
        .init(name: "http_tls_protocol_errors", help: "TLS connections failed after the handshake", keyPath: \.tlsProtocolErrors),
        .init(name: "http_tls_handshake_timeouts", help: "TLS connections closed for a handshake too slow", keyPath: \.tlsHandshakeTimeouts),
        .init(name: "http_proxy_retries", help: "Proxied requests retried on another upstream server", keyPath: \.proxyRetries),
        .init(name: "http_upstream_local_shortages", help: "Upstream connections not opened for want of a local socket or port",
              keyPath: \.upstreamLocalShortages),
        .init(name: "http_upstream_tls_handshakes", help: "TLS handshakes with upstream servers completed",
              keyPath: \.upstreamTLSHandshakes),
        .init(name: "http_upstream_tls_resumed", help: "TLS handshakes with upstream servers that resumed a session",
              keyPath: \.upstreamTLSResumed),
        .init(name: "http_upstream_tls_failures", help: "TLS connections to upstream servers that failed (a refused certificate among them)",
              keyPath: \.upstreamTLSFailures),
        .init(name: "http_upstream_tls_truncations",
              help: "Close-delimited upstream responses and tunnels ended by a FIN without TLS close_notify (the client is reset)",
              keyPath: \.upstreamTLSTruncations),
        .init(name: "http_health_ok", help: "Health path answers 200 (serving)", keyPath: \.healthOK),
        .init(name: "http_health_draining", help: "Health path answers 503 (draining before a stop)",
              keyPath: \.healthDraining),
    ]

    /// The counters for the statistics board.
    public var counters: [ApplicationCounter] {
        Self.counterFields.map { ApplicationCounter(name: $0.name, help: $0.help, value: self[keyPath: $0.keyPath]) }
    }

    mutating func count(healthAnswer status: UInt16) {
        if status == 200 { healthOK &+= 1 } else { healthDraining &+= 1 }
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
