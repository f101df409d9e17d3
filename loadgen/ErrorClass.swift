import MTCP
import MTCPHTTP

/// The kinds of failed request the load generator counts separately, so a
/// summary says what went wrong and on which side.
enum ErrorClass: Int, CaseIterable, Sendable {
    /// The handshake did not complete within `--connect-timeout` (or SYN
    /// retransmissions ran out).
    case connectTimeout
    /// RST in answer to the SYN (nothing listens), or at any later time.
    case refusedOrReset
    /// A well-formed response with another status than `--expect-status`.
    case badStatus
    /// End of stream before the response's framing said it was complete.
    case shortResponse
    /// Bytes that are not an HTTP/1.x response, or bytes after it that nobody asked for.
    case malformedResponse
    /// The body differs from the expected bytes or checksum.
    case bodyMismatch
    /// No complete response within `--timeout` of the request.
    case readTimeout
    /// The TLS handshake failed (an alert, or bytes that are not TLS).
    case tlsHandshake
    /// This side ran out of something (sockets, connections, ports): a
    /// configuration limit of the load generator, not a fault of the server.
    case local

    /// A request that failed by waiting too long: it enters the latency
    /// distribution at its timeout. Other failures end early and stay out of
    /// it (a refusal in 50 µs is no fast response).
    var isTimeout: Bool { self == .connectTimeout || self == .readTimeout }

    /// The column name in summaries and JSON.
    var name: String {
        switch self {
        case .connectTimeout: "connect_timeout"
        case .refusedOrReset: "refused_or_reset"
        case .badStatus: "bad_status"
        case .shortResponse: "short_response"
        case .malformedResponse: "malformed_response"
        case .bodyMismatch: "body_mismatch"
        case .readTimeout: "read_timeout"
        case .tlsHandshake: "tls_handshake"
        case .local: "local"
        }
    }

    /// A socket error, on a connection that was or was not yet established.
    init(_ error: SocketError, established: Bool) {
        switch error {
        case .connectionRefused, .connectionReset: self = .refusedOrReset
        case .timedOut: self = established ? .readTimeout : .connectTimeout
        case .notConnected, .closedForWriting: self = established ? .shortResponse : .refusedOrReset
        default: self = .local
        }
    }

    /// A response the parser refused.
    init(_ error: HTTPResponseParseError) {
        self = error == .truncated ? .shortResponse : .malformedResponse
    }
}

/// A count per `ErrorClass`, without heap storage (kept per core and per second).
struct ErrorCounts: Equatable, Sendable {
    private var counts = InlineArray<9, Int>(repeating: 0)

    init() {}

    subscript(kind: ErrorClass) -> Int {
        get { counts[kind.rawValue] }
        set { counts[kind.rawValue] = newValue }
    }

    var total: Int {
        var sum = 0
        for index in counts.indices { sum += counts[index] }
        return sum
    }

    static func + (lhs: ErrorCounts, rhs: ErrorCounts) -> ErrorCounts {
        var sum = lhs
        for kind in ErrorClass.allCases { sum[kind] += rhs[kind] }
        return sum
    }

    static func == (lhs: ErrorCounts, rhs: ErrorCounts) -> Bool {
        ErrorClass.allCases.allSatisfy { lhs[$0] == rhs[$0] }
    }
}
