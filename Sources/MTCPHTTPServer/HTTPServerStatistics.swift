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

    public init() {}

    mutating func count(response status: UInt16) {
        switch status / 100 {
        case 2: responses2xx &+= 1
        case 3: responses3xx &+= 1
        case 4: responses4xx &+= 1
        default: responses5xx &+= 1
        }
    }
}
