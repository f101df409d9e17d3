import MTCP
import MTCPHTTP
import MTCPTLS

/// What one core's HTTP server needs to run: the server's configuration
/// (conf/httpd.json) in the forms the data path uses.
public struct HTTPServerOptions: Sendable {
    /// TCP port to listen on.
    public var port: UInt16 = 80
    public var cache: StaticFileCacheConfiguration
    public var limits = HTTPLimits()
    /// A request head must be complete this long after its first byte (408 otherwise).
    public var headerTimeout = TimeSpan.seconds(10)
    /// A kept-alive connection with nothing in flight is closed after this long.
    public var idleTimeout = TimeSpan.seconds(60)
    /// Opening a connection to an upstream may take this long (502 otherwise).
    public var upstreamConnectTimeout = TimeSpan.seconds(3)
    /// An upstream may stay silent this long while a response is due (504 otherwise).
    public var upstreamReadTimeout = TimeSpan.seconds(30)
    /// How long a connection closing after its last response keeps reading (and
    /// dropping) what the client still sends, before it is closed anyway.
    public var lingerTimeout = TimeSpan.seconds(2)
    /// Path prefixes routed to upstream pools, tried in order.
    public var routes: [(prefix: String, pool: Int)] = []
    /// The servers of each pool.
    public var pools: [[(address: IPAddress, port: UInt16)]] = []
    /// Clients whose `X-Forwarded-For` the proxy extends rather than replaces.
    public var trustedProxies: [IPv4Address] = []
    /// Where each core appends the access log; nil for none.
    public var accessLogPath: String?
    /// The access log's line format.
    public var accessLogFormat = HTTPAccessLog.Format.combined
    /// HTTPS beside plain HTTP; nil for none.
    public var https: HTTPSOptions?

    /// Where the access log goes when the configuration turns it on.
    public static let defaultAccessLogPath = "access.log"

    public init(cache: StaticFileCacheConfiguration) { self.cache = cache }

    /// The options a configuration file describes.
    public init(_ configuration: HTTPServerConfiguration) {
        cache = configuration.staticFileCache
        port = configuration.listenPort
        limits = configuration.limits
        headerTimeout = .milliseconds(UInt64(configuration.timeouts.headerMilliseconds))
        idleTimeout = .milliseconds(UInt64(configuration.timeouts.idleMilliseconds))
        upstreamConnectTimeout = .milliseconds(UInt64(configuration.timeouts.upstreamConnectMilliseconds))
        upstreamReadTimeout = .milliseconds(UInt64(configuration.timeouts.upstreamReadMilliseconds))
        let names = configuration.upstreams.map(\.name)
        pools = configuration.upstreams.map { pool in
            pool.servers.map { (IPAddress($0.peer), $0.port) }
        }
        routes = configuration.routes.compactMap { route in
            names.firstIndex(of: route.upstream).map { (route.prefix, $0) }
        }
        trustedProxies = configuration.trustedProxies.map(IPv4Address.init)
        accessLogPath = configuration.accessLog ? Self.defaultAccessLogPath : nil
        accessLogFormat = configuration.accessLogFormat
        https = configuration.tls.map(HTTPSOptions.init)
    }
}

/// HTTPS: its port, the TLS context's settings and the handshake deadline.
public struct HTTPSOptions: Sendable {
    public var port: UInt16
    public var settings: TLSServerSettings
    /// A connection whose handshake is not done this long after it opened is closed.
    public var handshakeTimeout: TimeSpan

    public init(port: UInt16, settings: TLSServerSettings, handshakeTimeout: TimeSpan) {
        self.port = port
        self.settings = settings
        self.handshakeTimeout = handshakeTimeout
    }

    /// The options of a configuration's `tls` object, with ticket keys made now
    /// (once for the process: every core shares them through these options).
    public init(_ tls: HTTPServerConfiguration.TLS) {
        var settings = TLSServerSettings(certificatePath: tls.certificate, privateKeyPath: tls.privateKey,
                                         ticketKeys: TicketKeyRing())
        settings.minimumVersion = TLSVersion(rawValue: tls.minProtocol) ?? .tls12
        settings.ciphers = tls.ciphers ?? settings.ciphers
        settings.cipherSuites = tls.cipherSuites
        settings.sessionTickets = tls.sessionTickets
        self.init(port: tls.listenPort, settings: settings,
                  handshakeTimeout: .milliseconds(UInt64(tls.handshakeMilliseconds)))
    }
}
