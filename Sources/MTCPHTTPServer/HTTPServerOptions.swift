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
    /// How long the proxy waits on an upstream, unless a route says otherwise.
    public var upstreamTimeouts = UpstreamTimeouts()
    /// How long a connection closing after its last response keeps reading (and
    /// dropping) what the client still sends, before it is closed anyway.
    public var lingerTimeout = TimeSpan.seconds(2)
    /// Path prefixes routed to upstream pools, tried in order.
    public var routes: [ProxyRoute] = []
    /// The servers of each pool, and how a pool chooses among them.
    public var pools: [ProxyPool] = []
    /// Clients whose `X-Forwarded-For` the proxy extends rather than replaces.
    public var trustedProxies: [IPAddress] = []
    /// Where each core appends the access log; nil for none.
    public var accessLogPath: String?
    /// The access log's line format.
    public var accessLogFormat = HTTPAccessLog.Format.combined
    /// HTTPS beside plain HTTP; nil for none.
    public var https: HTTPSOptions?
    /// The least severe event logged (a reload changes it for every core at once).
    public var logLevel = HTTPServerConfiguration.LogLevel.info

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
        let timeouts = configuration.timeouts
        upstreamTimeouts = UpstreamTimeouts(connect: .milliseconds(UInt64(timeouts.upstreamConnectMilliseconds)),
                                            read: .milliseconds(UInt64(timeouts.upstreamReadMilliseconds)),
                                            send: .milliseconds(UInt64(timeouts.upstreamSendMilliseconds)))
        let names = configuration.upstreams.map(\.name)
        pools = configuration.upstreams.map { pool in
            ProxyPool(name: pool.name, servers: pool.servers.map {
                ProxyServer(address: IPAddress($0.peer), port: $0.port, weight: $0.weight, maxConnections: $0.maxConnections)
            }, balance: UpstreamBalance(rawValue: pool.balance) ?? .roundRobin, healthCheck: pool.healthCheck.map {
                UpstreamHealthCheck(path: $0.path, interval: .milliseconds(UInt64($0.intervalMilliseconds)),
                                    rise: $0.rise, fall: $0.fall)
            }, hashHeader: pool.hashHeader,
               queueSize: pool.queueSize ?? HTTPServerConfiguration.UpstreamPool.defaultQueueSize,
               queueTimeout: .milliseconds(UInt64(pool.queueTimeoutMilliseconds
                   ?? HTTPServerConfiguration.UpstreamPool.defaultQueueTimeoutMilliseconds)),
               tls: pool.tls.map(UpstreamTLSOptions.init))
        }
        routes = configuration.routes.compactMap { [upstreamTimeouts] route in
            names.firstIndex(of: route.upstream).map { pool in
                ProxyRoute(prefix: route.prefix, pool: pool,
                           timeouts: upstreamTimeouts.overridden(connect: route.upstreamConnectMilliseconds,
                                                                 read: route.upstreamReadMilliseconds,
                                                                 send: route.upstreamSendMilliseconds),
                           headers: route.headerPolicy)
            }
        }
        trustedProxies = configuration.trustedProxies.map(IPAddress.init)
        accessLogPath = configuration.accessLog ? Self.defaultAccessLogPath : nil
        accessLogFormat = configuration.accessLogFormat
        https = configuration.tls.map(HTTPSOptions.init)
        logLevel = configuration.logLevel
    }
}

/// A path prefix the proxy sends to an upstream pool, how long it waits on
/// the pool's servers (nil: the server-wide `upstreamTimeouts`), and what it
/// changes in the heads.
public struct ProxyRoute: Sendable {
    public var prefix: String
    public var pool: Int
    public var timeouts: UpstreamTimeouts?
    public var headers: HTTPProxyHeaderPolicy

    public init(prefix: String, pool: Int, timeouts: UpstreamTimeouts? = nil,
                headers: HTTPProxyHeaderPolicy = HTTPProxyHeaderPolicy()) {
        self.prefix = prefix
        self.pool = pool
        self.timeouts = timeouts
        self.headers = headers
    }
}

/// The servers a route's requests go to, and how one is chosen for each.
public struct ProxyPool: Sendable {
    /// The configuration's name of the pool (a label in /metrics).
    public var name: String
    public var servers: [ProxyServer]
    public var balance: UpstreamBalance
    /// Active health checks of its servers; nil for none (the passive skip only).
    public var healthCheck: UpstreamHealthCheck?
    /// `consistent_hash`: the request field whose value is the key; nil (or the
    /// field absent from a request): the client's address.
    public var hashHeader: String?
    /// Requests that may wait (per core) while every server is at its
    /// `maxConnections`, and how long each may wait before its 503. Unused
    /// when no server has a limit.
    public var queueSize: Int
    public var queueTimeout: TimeSpan
    /// HTTPS to its servers; nil: plain HTTP.
    public var tls: UpstreamTLSOptions?

    public init(name: String = "", servers: [ProxyServer], balance: UpstreamBalance = .roundRobin,
                healthCheck: UpstreamHealthCheck? = nil, hashHeader: String? = nil,
                queueSize: Int = HTTPServerConfiguration.UpstreamPool.defaultQueueSize,
                queueTimeout: TimeSpan = .milliseconds(UInt64(HTTPServerConfiguration.UpstreamPool.defaultQueueTimeoutMilliseconds)),
                tls: UpstreamTLSOptions? = nil) {
        self.name = name
        self.servers = servers
        self.balance = balance
        self.healthCheck = healthCheck
        self.hashHeader = hashHeader
        self.queueSize = queueSize
        self.queueTimeout = queueTimeout
        self.tls = tls
    }
}

/// HTTPS to a pool's servers: how each core's client context is made, and the
/// name sent in the hello and checked against the certificate.
public struct UpstreamTLSOptions: Sendable, Equatable {
    public var settings: TLSClientSettings
    /// Sent as SNI and checked against the certificate; nil: no SNI, and each
    /// server's IP address is checked.
    public var serverName: String?

    public init(settings: TLSClientSettings = TLSClientSettings(), serverName: String? = nil) {
        self.settings = settings
        self.serverName = serverName
    }

    /// The options of a pool's `tls`.
    public init(_ tls: HTTPServerConfiguration.UpstreamTLS) {
        var settings = TLSClientSettings(verify: tls.verify)
        settings.caFilePath = tls.caFile
        settings.certificatePath = tls.certificate
        settings.privateKeyPath = tls.privateKey
        settings.minimumVersion = TLSVersion(rawValue: tls.minProtocol) ?? .tls12
        self.init(settings: settings, serverName: tls.serverName)
    }
}

/// A GET of `path` to each server every `interval` (2xx or 3xx passes): `fall`
/// failures in a row take a server out of its pool's choice, `rise` passes bring it back.
public struct UpstreamHealthCheck: Sendable, Equatable {
    public var path: String
    public var interval: TimeSpan
    public var rise: Int
    public var fall: Int

    public init(path: String, interval: TimeSpan, rise: Int, fall: Int) {
        self.path = path
        self.interval = interval
        self.rise = rise
        self.fall = fall
    }
}

public struct ProxyServer: Sendable {
    public var address: IPAddress
    public var port: UInt16
    /// Its share of the pool's requests against the others' weights.
    public var weight: Int
    /// Requests in flight to it at most, per core; nil: no limit.
    public var maxConnections: Int?

    public init(address: IPAddress, port: UInt16, weight: Int = 1, maxConnections: Int? = nil) {
        self.address = address
        self.port = port
        self.weight = weight
        self.maxConnections = maxConnections
    }

    public init(address: IPv4Address, port: UInt16, weight: Int = 1, maxConnections: Int? = nil) {
        self.init(address: IPAddress(address), port: port, weight: weight, maxConnections: maxConnections)
    }
}

/// How a pool picks the server of a request (`balance` in the configuration).
public enum UpstreamBalance: String, Sendable, Equatable {
    /// In turn, each server as often as its weight says.
    case roundRobin = "round_robin"
    /// The server with the fewest requests in flight for its weight (a slow
    /// server gets fewer).
    case leastOutstanding = "least_outstanding"
    /// The same server for the same key (a field's value, or the client's
    /// address) while it is available (`RendezvousHash`).
    case consistentHash = "consistent_hash"
}

/// How long the proxy waits on an upstream server before it gives up on it.
public struct UpstreamTimeouts: Sendable, Equatable {
    /// Opening the connection (then another server for an idempotent request, else 502).
    public var connect = TimeSpan.seconds(3)
    /// Silence while response bytes are due (504).
    public var read = TimeSpan.seconds(30)
    /// No room taken for request bytes waiting to go (504): a server that stopped reading.
    public var send = TimeSpan.seconds(30)

    public init() {}

    public init(connect: TimeSpan, read: TimeSpan, send: TimeSpan) {
        self.connect = connect
        self.read = read
        self.send = send
    }

    /// These timeouts with those given (in milliseconds) in their place.
    func overridden(connect: Int?, read: Int?, send: Int?) -> UpstreamTimeouts {
        UpstreamTimeouts(connect: connect.map { .milliseconds(UInt64($0)) } ?? self.connect,
                         read: read.map { .milliseconds(UInt64($0)) } ?? self.read,
                         send: send.map { .milliseconds(UInt64($0)) } ?? self.send)
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
