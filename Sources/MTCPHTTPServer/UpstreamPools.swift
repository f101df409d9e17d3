import Glibc
import MTCP

/// One core's view of the reverse proxy's upstreams: the routes (path prefix ->
/// pool), the servers of each pool with their health, round-robin choice, and
/// the kept-alive connections to each server that wait for a request.
///
/// Per core, like everything else: each core opens and reuses its own upstream
/// connections, and marks a server down on its own evidence.
///
/// A reload that changes the routes or servers replaces the whole set; an
/// exchange still in flight then refers to no server of the new one (its
/// `server` is -1): it is neither scored nor parked, only finished.
struct UpstreamPools {
    struct Route: Equatable {
        let prefix: [UInt8]
        let pool: Int
    }

    struct Server {
        let address: IPAddress
        let port: UInt16
        /// Connect failures in a row; the server is skipped while `downUntil` is ahead.
        var failures = 0
        var downUntil = Instant.zero
        /// Slots of idle kept-alive connections to this server (a stack; its
        /// capacity is reserved at start, so pushing does not allocate).
        var idle: [Int32] = []
    }

    struct Pool {
        let servers: Range<Int>
        var next = 0
    }

    /// How long a server that refused or timed out is left alone.
    static let retryAfter = TimeSpan.seconds(5)
    /// Idle connections kept per server and core.
    static let idlePerServer = 64

    let routes: [Route]
    var pools: [Pool] = []
    var servers: [Server] = []

    init(_ routes: [(prefix: String, pool: Int)], pools: [[(IPAddress, UInt16)]]) {
        self.routes = routes.map { Route(prefix: Array($0.prefix.utf8), pool: $0.pool) }
        for members in pools {
            let first = servers.count
            for (address, port) in members {
                var server = Server(address: address, port: port)
                server.idle.reserveCapacity(Self.idlePerServer)
                servers.append(server)
            }
            self.pools.append(Pool(servers: first..<servers.count))
        }
    }

    /// The routes and servers of `options`.
    init(_ options: HTTPServerOptions) {
        self.init(options.routes, pools: options.pools.map { $0.map { ($0.address, $0.port) } })
    }

    var isEmpty: Bool { routes.isEmpty }

    /// Whether `other` routes the same prefixes to the same servers (their
    /// health and idle connections aside).
    func hasSameTargets(as other: UpstreamPools) -> Bool {
        routes == other.routes && pools.map(\.servers) == other.pools.map(\.servers)
            && servers.map(\.address) == other.servers.map(\.address) && servers.map(\.port) == other.servers.map(\.port)
    }

    /// The pool of the first route whose prefix starts `path` on a segment
    /// boundary: `/api` takes `/api` and `/api/x`, never `/api-internal` (a
    /// prefix ending in `/` is a boundary itself).
    func pool(for path: UnsafeRawBufferPointer) -> Int? {
        for route in routes where route.prefix.count <= path.count {
            let matches = route.prefix.withUnsafeBytes { prefix in
                memcmp(prefix.baseAddress!, path.baseAddress!, prefix.count) == 0
            }
            let boundary = route.prefix.last == UInt8(ascii: "/") || path.count == route.prefix.count
                || path[route.prefix.count] == UInt8(ascii: "/")
            if matches && boundary { return route.pool }
        }
        return nil
    }

    /// The next server of `pool` in round-robin order that is not marked down;
    /// nil when all are.
    mutating func chooseServer(in pool: Int, now: Instant) -> Int? {
        let members = pools[pool].servers
        for step in 0..<members.count {
            let server = members.lowerBound + (pools[pool].next + step) % members.count
            if servers[server].downUntil <= now {
                pools[pool].next = (pools[pool].next + step + 1) % members.count
                return server
            }
        }
        return nil
    }

    mutating func recordFailure(_ server: Int, now: Instant) {
        guard servers.indices.contains(server) else { return }  // of a replaced configuration
        servers[server].failures += 1
        servers[server].downUntil = now + Self.retryAfter
    }

    mutating func recordSuccess(_ server: Int) {
        guard servers.indices.contains(server) else { return }
        servers[server].failures = 0
    }

    /// An idle connection to `server`, if one waits.
    mutating func takeIdle(_ server: Int) -> Int32? { servers[server].idle.popLast() }

    /// Parks a connection for reuse; false when the server has enough idle ones.
    mutating func park(_ slot: Int32, server: Int) -> Bool {
        guard servers.indices.contains(server), servers[server].idle.count < Self.idlePerServer else { return false }
        servers[server].idle.append(slot)
        return true
    }

    /// Forgets an idle connection that closed.
    mutating func unpark(_ slot: Int32, server: Int) {
        guard servers.indices.contains(server) else { return }
        if let position = servers[server].idle.firstIndex(of: slot) { servers[server].idle.remove(at: position) }
    }
}
