import MTCP
import MTCPTLS

/// One core's TLS client state for the proxy's HTTPS pools: a client context
/// per pool (none for a plain one), and per server the name its certificate
/// must carry and the last session it gave, offered by the next connection
/// for resumption. Made with the pools at start and at every reload (the CA
/// file and client certificate may have changed at the same paths), never
/// shared between cores. Connections opened before keep the context they
/// started with (OpenSSL counts its references). A class for its deinit: one
/// object per core and configuration, touched only by HTTPS pools' connections.
final class UpstreamTLSContexts {
    /// Per pool of `UpstreamPools.pools`.
    private let contexts: [OpaquePointer?]
    /// Per server of `UpstreamPools.servers`: the pool's context, SNI, the name
    /// or address checked against the certificate, the session to resume.
    private let serverContexts: [OpaquePointer?]
    private let serverNames: [String?]
    private let identities: [String]
    private var sessions: [OpaquePointer?]

    /// The contexts of `options`' HTTPS pools, whose servers `upstreams` lists.
    /// Throws the first context that cannot be made, with the pool's index.
    init(_ upstreams: UpstreamPools, _ options: HTTPServerOptions) throws(UpstreamTLSSetupError) {
        var contexts: [OpaquePointer?] = []
        for (pool, settings) in options.pools.map(\.tls).enumerated() {
            guard let settings else {
                contexts.append(nil)
                continue
            }
            do {
                contexts.append(try TLSContextFactory.client(settings.settings))
            } catch {
                for case let made? in contexts { TLSContextFactory.free(made) }
                throw UpstreamTLSSetupError(pool: pool, error: error)
            }
        }
        self.contexts = contexts
        serverContexts = upstreams.servers.map { contexts[$0.pool] }
        serverNames = upstreams.servers.map { options.pools[$0.pool].tls?.serverName }
        identities = upstreams.servers.map { server in
            options.pools[server.pool].tls?.serverName ?? "\(server.address)"
        }
        sessions = Array(repeating: nil, count: upstreams.servers.count)
    }

    /// No pool speaks HTTPS.
    init() {
        contexts = []
        serverContexts = []
        serverNames = []
        identities = []
        sessions = []
    }

    deinit {
        for case let session? in sessions { TLSStream.release(session: session) }
        for case let context? in contexts { TLSContextFactory.free(context) }
    }

    /// Whether connections to `server` speak HTTPS.
    func isSecure(_ server: Int) -> Bool { serverContexts.indices.contains(server) && serverContexts[server] != nil }

    /// A client stream for a new connection to HTTPS server `server`, offering
    /// its last session; nil when OpenSSL cannot make one.
    func stream(for server: Int) -> TLSStream? {
        guard let context = serverContexts[server] else { return nil }
        return TLSStream.client(context, serverName: serverNames[server], identity: identities[server],
                                session: sessions[server])
    }

    /// Whether `stream` was made with HTTPS server `server`'s context here. One
    /// made before a reload was verified under the files of then: a CA file
    /// replaced at the same path (a rotated authority) must not go on vouching
    /// for it, so it is neither kept for reuse nor its session resumed.
    func isCurrent(_ stream: TLSStream, server: Int) -> Bool {
        guard serverContexts.indices.contains(server), let context = serverContexts[server] else { return false }
        return stream.isMade(with: context)
    }

    /// Keeps `stream`'s session as `server`'s to resume (the last one wins),
    /// when the stream was made with the server's context here: one opened
    /// before a reload was verified under the settings of then (another CA
    /// file, another name, or no TLS at all), so its session is not this one's.
    func keepSession(of stream: TLSStream, server: Int) {
        guard isCurrent(stream, server: server), let session = stream.session() else { return }
        if let kept = sessions[server] { TLSStream.release(session: kept) }
        sessions[server] = session
    }
}

/// A pool's client context could not be made: which pool, and why.
struct UpstreamTLSSetupError: Error, CustomStringConvertible {
    var pool: Int
    var error: TLSSetupError

    /// The key at fault in httpd.json: `upstreams[1].tls.ca_file`.
    var keyPath: String { "upstreams[\(pool)].tls" + (error.setting.map { "." + $0 } ?? "") }

    var description: String { "\(keyPath): \(error.message)" }
}
