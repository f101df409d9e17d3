import Glibc
import MTCP
import MTCPHTTP

/// One core's view of the reverse proxy's upstreams: the routes (path prefix ->
/// pool), the servers of each pool with their health and weight, the pool's way
/// of choosing among them (weighted round robin or least outstanding requests),
/// and the kept-alive connections to each server that wait for a request.
///
/// Per core, like everything else: each core opens and reuses its own upstream
/// connections, and marks a server down on its own evidence.
///
/// A reload that changes the pools or servers replaces the whole set. An
/// exchange still in flight to a server that stays (the same address and port
/// in a pool of the same name) goes on as one of the new set's: it counts
/// against the server's `max_connections` there and is parked there when it
/// ends. One to a server that left refers to none (its `server` is -1): it is
/// neither scored nor parked, only finished. A reload that changes only the
/// routes takes them and keeps the servers' state.
struct UpstreamPools {
    struct Route {
        let prefix: [UInt8]
        let pool: Int
        let timeouts: UpstreamTimeouts
        let headers: HTTPProxyHeaderPolicy
    }

    struct Server {
        let address: IPAddress
        let port: UInt16
        /// The pool it belongs to.
        let pool: Int
        /// Its share of the pool's requests against the other servers' weights.
        let weight: Int
        /// Its seed in the pool's consistent hashing.
        let hashSeed: UInt64
        /// Requests in flight to it at most (`max_connections`, per core); `Int.max`: no limit.
        let maxConnections: Int
        /// Connect failures in a row; the server is skipped while `downUntil` is ahead.
        var failures = 0
        var downUntil = Instant.zero
        /// Requests sent to it (retries included) and connects that failed, for /metrics.
        var requests: UInt64 = 0
        var connectFailures: UInt64 = 0
        /// HTTPS handshakes (or later records) that failed: a certificate refused among them.
        var tlsFailures: UInt64 = 0
        /// Active health checks: whether the server is in the pool's choice,
        /// passes and failures in a row, when the next check is due, and the
        /// socket of the check in flight. The socket, not the slot: its
        /// generation tells a slot reused by another connection from the check.
        var healthy = true
        var checkPasses = 0
        var checkFailures = 0
        var nextCheck = Instant.zero
        var checkSocket: Socket?
        /// Its last response said HTTP/1.0: it gets no chunked request (RFC 9112 §6.1).
        var speaksHTTP10 = false
        /// Smooth weighted round robin's running score.
        var score = 0
        /// Connections open to it, idle ones included.
        var open = 0
        /// Slots of idle kept-alive connections to this server (a stack; its
        /// capacity is reserved at start, so pushing does not allocate).
        var idle: [Int32] = []

        /// Requests in flight: every open connection that is not idle carries one.
        /// What `maxConnections` limits: idle kept-alive connections are not
        /// counted (as nginx's `max_conns` counts active connections).
        var outstanding: Int { open - idle.count }

        var isAtLimit: Bool { outstanding >= maxConnections }
    }

    struct Pool {
        let name: String
        let servers: Range<Int>
        let balance: UpstreamBalance
        let healthCheck: HealthCheck?
        /// `consistent_hash`: the field whose value is the key, lowercased; nil: the client's address.
        let hashHeader: [UInt8]?
        /// HTTPS to its servers (`UpstreamTLSContexts` holds the contexts); nil: plain HTTP.
        let tls: UpstreamTLSOptions?
        /// Where least-outstanding starts looking, so that ties take turns.
        var next = 0
        /// Requests waiting while every available server is at its limit, first
        /// come first served: room for the pool's `queue_size` (none when no
        /// server has a limit), allocated with the pools. Each waits at most `queueTimeout`.
        var queue: UpstreamQueue
        let queueTimeout: TimeSpan
        /// Whether a server of the pool has a limit (and a request may have to wait).
        let isLimited: Bool
        /// For /metrics: requests that waited, that waited too long (503), that
        /// found the queue full (503 at once).
        var queued: UInt64 = 0
        var queueTimeouts: UInt64 = 0
        var queueOverflows: UInt64 = 0
    }

    /// A pool's active health check (`UpstreamHealthCheck`), its path in bytes.
    struct HealthCheck: Equatable {
        let path: [UInt8]
        let interval: TimeSpan
        let rise: Int
        let fall: Int
    }

    /// How long a server that refused or timed out is left alone.
    static let retryAfter = TimeSpan.seconds(5)
    /// Idle connections kept per server and core.
    static let idlePerServer = 64
    /// How long an idle connection is kept: less than the 5 s after which common
    /// servers (Node.js, Apache httpd) close theirs, so that the proxy closes
    /// first and does not send a request into the server's FIN (a GET is retried
    /// then, a POST gets 502); and a server gone silent is not sent requests on
    /// connections that only time out.
    static let idleTimeout = TimeSpan.seconds(4)

    /// Replaced by a reload whatever else it keeps: a route's prefix, timeouts
    /// and headers need no state of the servers.
    var routes: [Route]
    /// Counts the route sets taken by reloads: an exchange that started under
    /// another set relays its response without the (new) route's edits.
    var routesGeneration = 0
    var pools: [Pool] = []
    var servers: [Server] = []
    /// Requests waiting in all the pools' queues: none, the usual case, costs a comparison per iteration.
    var waiting = 0

    /// The routes and servers of `options`.
    init(_ options: HTTPServerOptions) {
        routes = options.routes.map {
            Route(prefix: Array($0.prefix.utf8), pool: $0.pool, timeouts: $0.timeouts ?? options.upstreamTimeouts,
                  headers: $0.headers)
        }
        for pool in options.pools {
            let first = servers.count
            for member in Self.merged(pool.servers) {
                var server = Server(address: member.address, port: member.port, pool: pools.count, weight: member.weight,
                                    hashSeed: RendezvousHash.seed(of: member.address, port: member.port),
                                    maxConnections: member.maxConnections ?? .max)
                server.idle.reserveCapacity(Self.idlePerServer)
                servers.append(server)
            }
            let check = pool.healthCheck.map {
                HealthCheck(path: Array($0.path.utf8), interval: $0.interval, rise: $0.rise, fall: $0.fall)
            }
            let isLimited = servers[first...].contains { $0.maxConnections != .max }
            pools.append(Pool(name: pool.name, servers: first..<servers.count, balance: pool.balance, healthCheck: check,
                              hashHeader: pool.hashHeader.map { Array($0.lowercased().utf8) }, tls: pool.tls,
                              queue: UpstreamQueue(capacity: isLimited ? pool.queueSize : 0),
                              queueTimeout: pool.queueTimeout, isLimited: isLimited))
        }
    }

    var isEmpty: Bool { routes.isEmpty }

    /// `members` with each address listed once, in order of first appearance,
    /// its weight the sum of its listings': before weights, listing a server
    /// twice was the way to give it twice the share, and one server must be one
    /// series in /metrics (Prometheus refuses a scrape with duplicate samples).
    static func merged(_ members: [ProxyServer]) -> [ProxyServer] {
        var merged: [ProxyServer] = []
        for member in members {
            if let same = merged.firstIndex(where: { $0.address == member.address && $0.port == member.port }) {
                merged[same].weight += member.weight
                // Two limits add up as the weights do; no limit on either listing is none.
                // (A configuration file cannot list a server twice in a pool with limits.)
                merged[same].maxConnections = merged[same].maxConnections.flatMap { limit in
                    member.maxConnections.map { limit + $0 }
                }
            } else {
                merged.append(member)
            }
        }
        return merged
    }

    /// Whether `other` has the same pools of the same servers (their health
    /// and idle connections aside).
    func hasSameTargets(as other: UpstreamPools) -> Bool {
        pools.map(\.name) == other.pools.map(\.name) && pools.map(\.servers) == other.pools.map(\.servers)
            && pools.map(\.balance) == other.pools.map(\.balance) && pools.map(\.healthCheck) == other.pools.map(\.healthCheck)
            && pools.map(\.hashHeader) == other.pools.map(\.hashHeader) && pools.map(\.tls) == other.pools.map(\.tls)
            && servers.map(\.address) == other.servers.map(\.address) && servers.map(\.port) == other.servers.map(\.port)
            && servers.map(\.weight) == other.servers.map(\.weight)
            && servers.map(\.maxConnections) == other.servers.map(\.maxConnections)
            && pools.map(\.queue.capacity) == other.pools.map(\.queue.capacity)
            && pools.map(\.queueTimeout) == other.pools.map(\.queueTimeout)
    }

    /// The index of the first route whose prefix starts `path` on a segment boundary: `/api`
    /// takes `/api` and `/api/x`, never `/api-internal` (a prefix ending in `/`
    /// is a boundary itself).
    func route(for path: UnsafeRawBufferPointer) -> Int? {
        for (index, route) in routes.enumerated() where route.prefix.count <= path.count {
            let matches = route.prefix.withUnsafeBytes { prefix in
                memcmp(prefix.baseAddress!, path.baseAddress!, prefix.count) == 0
            }
            let boundary = route.prefix.last == UInt8(ascii: "/") || path.count == route.prefix.count
                || path[route.prefix.count] == UInt8(ascii: "/")
            if matches && boundary { return index }
        }
        return nil
    }

    /// The server of `pool` that its balance picks among those not marked down
    /// (nor `avoiding`, which just failed); nil when none is left. `key` is the
    /// request's for a `consistent_hash` pool (`RendezvousHash`).
    mutating func chooseServer(in pool: Int, avoiding: Int = -1, key: UInt64 = 0, now: Instant) -> Int? {
        let members = pools[pool].servers
        var chosen = -1
        switch pools[pool].balance {
        case .roundRobin:
            // Smooth weighted round robin: each candidate gains its weight, the
            // highest score wins and gives back the candidates' total. A server
            // of weight w wins w turns of every (sum of weights), spread out;
            // equal weights make plain round robin.
            var total = 0
            for server in members where isAvailable(server, avoiding: avoiding, now: now) {
                servers[server].score += servers[server].weight
                total += servers[server].weight
                if chosen < 0 || servers[server].score > servers[chosen].score { chosen = server }
            }
            if chosen >= 0 { servers[chosen].score -= total }
        case .leastOutstanding:
            // Fewest requests in flight per unit of weight (a/wa < b/wb, multiplied
            // out); ties go to the first from a start that moves on each time.
            for step in 0..<members.count {
                let server = members.lowerBound + (pools[pool].next + step) % members.count
                guard isAvailable(server, avoiding: avoiding, now: now) else { continue }
                if chosen < 0 || servers[server].outstanding * servers[chosen].weight
                    < servers[chosen].outstanding * servers[server].weight {
                    chosen = server
                }
            }
            pools[pool].next = (pools[pool].next + 1) % members.count
        case .consistentHash:
            var best = 0.0
            for server in members where isAvailable(server, avoiding: avoiding, now: now) {
                let score = RendezvousHash.score(key: key, seed: servers[server].hashSeed, weight: servers[server].weight)
                if chosen < 0 || score > best {
                    chosen = server
                    best = score
                }
            }
        }
        return chosen >= 0 ? chosen : nil
    }

    /// Whether `server` may take a request: its checks pass, it is not skipped
    /// after a failed connect, it is below its `max_connections` (unless
    /// `ignoringLimit`), and it is not the one a retry avoids. The only
    /// server of a pool is never skipped on a failed connect (as nginx ignores
    /// `max_fails` for a single server): skipping it turns a restart of a few
    /// hundred milliseconds into `retryAfter` of 502s with no one to go to
    /// instead. Its health checks, when it has them, still take it out.
    private func isAvailable(_ server: Int, avoiding: Int = -1, ignoringLimit: Bool = false, now: Instant) -> Bool {
        let skipped = servers[server].downUntil > now && pools[servers[server].pool].servers.count > 1
        return servers[server].healthy && !skipped && server != avoiding && (ignoringLimit || !servers[server].isAtLimit)
    }

    // MARK: the queue of a pool whose servers are at their limits

    /// Whether a request of `pool` that found no server must wait rather than
    /// get a 502: some server would take it but for its `max_connections`.
    func mustWait(in pool: Int, now: Instant) -> Bool {
        pools[pool].isLimited && pools[pool].servers.contains { isAvailable($0, ignoringLimit: true, now: now) }
    }

    /// Whether requests of `pool` wait already: a new one goes behind them.
    func hasWaiting(in pool: Int) -> Bool { pools[pool].queue.count > 0 }

    /// Whether a server of `pool` can take a request now.
    func hasRoom(in pool: Int, now: Instant) -> Bool {
        pools[pool].servers.contains { isAvailable($0, now: now) }
    }

    /// Puts client `slot`, waiting since `since`, in `pool`'s queue, in its
    /// turn (`UpstreamQueue.insert`), to get its 503 at `since` + the queue
    /// timeout; `again` when it waited before (and was counted then). Its
    /// ticket, or nil, counted, when the queue is full.
    mutating func enqueue(_ slot: Int32, in pool: Int, since: Instant, again: Bool) -> UpstreamQueue.Ticket? {
        guard let ticket = pools[pool].queue.insert(slot, since: since) else {
            pools[pool].queueOverflows &+= 1
            return nil
        }
        if !again { pools[pool].queued &+= 1 }
        waiting += 1
        return ticket
    }

    /// Takes the request of `ticket` (its client closed) out of `pool`'s queue.
    mutating func leaveQueue(_ ticket: UpstreamQueue.Ticket, pool: Int) {
        guard pools.indices.contains(pool), pools[pool].queue.remove(ticket) else { return }
        waiting -= 1
    }

    /// The oldest waiting client of `pool`, taken out of the queue, when a
    /// server has room for it or none of the pool's servers is up any more (it
    /// gets its 502 at once, as a new request would) (`timedOut` false), or when
    /// it has waited past its deadline (`timedOut` true, counted); nil otherwise.
    mutating func nextWaiting(in pool: Int, timedOut: Bool, now: Instant) -> Int32? {
        guard let oldest = pools[pool].queue.oldest else { return nil }
        if timedOut {
            guard now >= oldest.since + pools[pool].queueTimeout else { return nil }
            pools[pool].queueTimeouts &+= 1
        } else {
            guard hasRoom(in: pool, now: now) || !mustWait(in: pool, now: now) else { return nil }
        }
        _ = pools[pool].queue.removeOldest()
        waiting -= 1
        return oldest.slot
    }

    /// The clients waiting in every queue, oldest first in each pool's, taken out (the pools are being replaced).
    mutating func takeAllWaiting() -> [Int32] {
        var slots: [Int32] = []
        for pool in pools.indices {
            while let slot = pools[pool].queue.removeOldest() { slots.append(slot) }
        }
        waiting = 0
        return slots
    }

    /// The active health check of `server`'s pool, if it has one.
    func healthCheck(of server: Int) -> HealthCheck? { pools[servers[server].pool].healthCheck }

    /// A check of `server` passed or failed: `rise` passes in a row bring it
    /// back into the pool's choice, `fall` failures in a row take it out.
    /// Returns the server's new health when this check changed it, else nil.
    @discardableResult
    mutating func recordCheck(_ server: Int, passed: Bool) -> Bool? {
        guard servers.indices.contains(server), let check = healthCheck(of: server) else { return nil }
        let wasHealthy = servers[server].healthy
        if passed {
            // A check connected and was answered: evidence enough against the passive skip.
            servers[server].failures = 0
            servers[server].downUntil = .zero
            servers[server].checkPasses += 1
            servers[server].checkFailures = 0
            if servers[server].checkPasses >= check.rise { servers[server].healthy = true }
        } else {
            servers[server].checkFailures += 1
            servers[server].checkPasses = 0
            if servers[server].checkFailures >= check.fall { servers[server].healthy = false }
        }
        return servers[server].healthy == wasHealthy ? nil : servers[server].healthy
    }

    /// The name of `server`'s pool.
    func poolName(of server: Int) -> String { pools[servers[server].pool].name }

    /// The check connection `socket` of `server` closed: none is in flight.
    mutating func checkClosed(_ socket: Socket, server: Int) {
        if servers.indices.contains(server) && servers[server].checkSocket == socket { servers[server].checkSocket = nil }
    }

    /// A request goes to `server`.
    mutating func sent(to server: Int) {
        if servers.indices.contains(server) { servers[server].requests &+= 1 }
    }

    /// A connection to `server` opened, or closed.
    mutating func opened(_ server: Int) {
        if servers.indices.contains(server) { servers[server].open += 1 }
    }

    mutating func closed(_ server: Int) {
        if servers.indices.contains(server) { servers[server].open -= 1 }
    }

    /// The index here of server `server` of `previous` (a set this one
    /// replaces): the same address and port in the pool of the same name and
    /// the same `tls` settings; nil when it is not in this set. A connection
    /// opened under other TLS settings (or none) must not be parked for the
    /// new pool, whose requests expect what its settings promise.
    func index(of server: Int, in previous: borrowing UpstreamPools) -> Int? {
        guard previous.servers.indices.contains(server) else { return nil }
        let old = previous.servers[server]
        let name = previous.pools[old.pool].name
        guard let pool = pools.firstIndex(where: { $0.name == name }),
              pools[pool].tls == previous.pools[old.pool].tls else { return nil }
        return pools[pool].servers.first { servers[$0].address == old.address && servers[$0].port == old.port }
    }

    /// The pool `server` belongs to; nil for a server of a replaced configuration.
    func pool(of server: Int) -> Int? {
        pools.firstIndex { $0.servers.contains(server) }
    }

    mutating func recordFailure(_ server: Int, now: Instant) {
        guard servers.indices.contains(server) else { return }  // of a replaced configuration
        servers[server].failures += 1
        servers[server].connectFailures &+= 1
        servers[server].downUntil = now + Self.retryAfter
    }

    /// A TLS connection to `server` failed (its connect failure, if it was
    /// one, is recorded apart).
    mutating func recordTLSFailure(_ server: Int) {
        if servers.indices.contains(server) { servers[server].tlsFailures &+= 1 }
    }

    mutating func recordSuccess(_ server: Int) {
        guard servers.indices.contains(server) else { return }
        servers[server].failures = 0
    }

    /// A response head from `server` said `HTTP/1.minorVersion`.
    mutating func heard(from server: Int, minorVersion: UInt8) {
        if servers.indices.contains(server) { servers[server].speaksHTTP10 = minorVersion == 0 }
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

    /// Each server's samples for /metrics (labelled by pool and server): requests
    /// sent, connects failed, requests in flight, and its state: 1 (up), or 0
    /// while its health checks fail (`fall` in a row, until `rise` pass) or from
    /// a failed connect until one succeeds. Built once a second, off the data path.
    var counters: [ApplicationCounter] {
        var samples: [ApplicationCounter] = []
        for pool in pools {
            for index in pool.servers {
                let server = servers[index]
                let labels = "pool=\"\(Self.labelValue(pool.name))\",server=\"\(server.address.isIPv4 ? "\(server.address)" : "[\(server.address)]"):\(server.port)\""
                samples += [
                    ApplicationCounter(name: "http_upstream_requests", help: "Requests sent to an upstream server",
                                       value: server.requests, labels: labels),
                    ApplicationCounter(name: "http_upstream_connect_failures", help: "Connects to an upstream server that failed",
                                       value: server.connectFailures, labels: labels),
                    ApplicationCounter(name: "http_upstream_outstanding", help: "Requests in flight to an upstream server",
                                       value: UInt64(max(server.outstanding, 0)), labels: labels, isGauge: true),
                    ApplicationCounter(name: "http_upstream_up", help: "1 when the server passes its health checks and its last connect succeeded",
                                       value: server.healthy && server.failures == 0 ? 1 : 0, labels: labels, isGauge: true),
                ]
                if pool.tls != nil {
                    samples.append(ApplicationCounter(name: "http_upstream_server_tls_failures",
                                                      help: "TLS connections to an upstream server that failed (a refused certificate among them)",
                                                      value: server.tlsFailures, labels: labels))
                }
                if server.maxConnections != .max {
                    samples.append(ApplicationCounter(name: "http_upstream_max_connections",
                                                      help: "The server's max_connections (per core): requests in flight at most",
                                                      value: UInt64(server.maxConnections), labels: labels, isGauge: true))
                }
            }
            guard pool.isLimited else { continue }
            let labels = "pool=\"\(Self.labelValue(pool.name))\""
            let queue: [(name: String, help: String, value: UInt64)] = [
                ("http_upstream_queued", "Requests that waited for a server at its max_connections", pool.queued),
                ("http_upstream_queue_timeouts", "Requests that waited past queue_timeout_ms (503)", pool.queueTimeouts),
                ("http_upstream_queue_overflows", "Requests that found the queue full (503)", pool.queueOverflows),
                ("http_upstream_queue_length", "Requests waiting for a server of the pool", UInt64(pool.queue.count)),
            ]
            samples += queue.map {
                ApplicationCounter(name: $0.name, help: $0.help, value: $0.value, labels: labels,
                                   isGauge: $0.name == "http_upstream_queue_length")
            }
        }
        return samples
    }

    /// `text` as a Prometheus label value: backslash, quote and line feed
    /// escaped (the text format's only escapes), other control characters
    /// (a CR above all, which the format has no escape for) replaced by U+FFFD.
    /// By Unicode scalars: as Characters, a CR LF is one grapheme that equals
    /// neither "\r" nor "\n", and went out raw, splitting the sample's line.
    private static func labelValue(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped.append(contentsOf: "\\\\".unicodeScalars)
            case "\"": escaped.append(contentsOf: "\\\"".unicodeScalars)
            case "\n": escaped.append(contentsOf: "\\n".unicodeScalars)
            case _ where scalar.properties.generalCategory == .control: escaped.append("\u{FFFD}")
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
