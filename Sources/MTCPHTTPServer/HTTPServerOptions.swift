import MTCP
import MTCPHTTP

/// What one core's HTTP server needs to run, taken from the server's
/// configuration file and the command line by the appliance.
public struct HTTPServerOptions: Sendable {
    /// TCP port to listen on.
    public var port: UInt16 = 80
    public var cache: StaticFileCacheConfiguration
    public var limits = HTTPLimits()
    /// A request head must be complete this long after its first byte (408 otherwise).
    public var headerTimeout = TimeSpan.seconds(10)
    /// A kept-alive connection with nothing in flight is closed after this long.
    public var idleTimeout = TimeSpan.seconds(60)
    /// Combined-format access log file, or nil for none.
    public var accessLogPath: String?

    public init(cache: StaticFileCacheConfiguration) { self.cache = cache }
}
