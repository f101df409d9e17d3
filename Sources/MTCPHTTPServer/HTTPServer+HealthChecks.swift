import MTCP
import MTCPHTTP

/// Active health checks: every `interval`, each core sends a GET of the pool's
/// check path to each server of a pool that has one, on a connection of its
/// own that closes after the answer's head. A 2xx or 3xx status passes; any
/// other status, a refused connect, or no answer within the server-wide connect
/// plus read timeouts (at most the interval) fails. A
/// check that cannot start for want of a local socket counts for nothing
/// (`HTTPServerStatistics.upstreamLocalShortages`), and a check's connect
/// never touches the passive skip (`UpstreamPools.recordFailure`). After
/// `fall` failures in a row the server is taken out of the pool's choice, after
/// `rise` passes in a row it is back (`UpstreamPools.recordCheck`).
///
/// Per core, like the passive skip: each core checks with its own connections
/// and acts on its own evidence, so N cores send N checks per interval.
extension HTTPServer {
    /// Starts the checks that are due at `now`; one still in flight from the
    /// previous interval is a failure (no answer in time).
    mutating func runHealthChecks(_ context: inout SocketContext<Device>) {
        // None while stopping: the core waits for its connections to end.
        let stopping = isStopping
        for server in upstreams.servers.indices {
            guard let check = upstreams.healthCheck(of: server),
                  stopping || context.now >= upstreams.servers[server].nextCheck else { continue }
            // Still open (closing a check forgets it): no answer in time, or,
            // when stopping, no time left for one, which says nothing of the server.
            if let pending = upstreams.servers[server].checkSocket {
                if stopping {
                    closeConnection(Int(pending.index), &context, reset: true)
                } else {
                    finishHealthCheck(Int(pending.index), passed: false, &context)
                }
            }
            // No connection to be had here (`openConnection`): the server is not
            // at fault, so nothing is recorded and the check is tried at the next sweep.
            guard !stopping, let slot = openHealthCheck(server, path: check.path, &context) else { continue }
            upstreams.servers[server].nextCheck = context.now + check.interval
            upstreams.servers[server].checkSocket = connections[slot].socket
            // A stalled server fails its check after a connect and a read timeout,
            // not only when the next one is due (which may be an hour away).
            let timeouts = options.upstreamTimeouts
            connections[slot].deadline = context.now + min(check.interval, timeouts.connect + timeouts.read)
        }
    }

    /// Opens a check's connection to `server` with the request in its output.
    private mutating func openHealthCheck(_ server: Int, path: [UInt8],
                                          _ context: inout SocketContext<Device>) -> Int? {
        guard let index = openConnection(to: server, &context) else { return nil }
        connections[index].isHealthCheck = true
        let target = upstreams.servers[server]
        var writer = HTTPByteWriter(memory.forward(index))
        writer.append("GET ")
        path.withUnsafeBytes { writer.append($0) }
        writer.append(" HTTP/1.1\r\nHost: ")
        // RFC 9110 §7.2: an IPv6 literal in Host goes in brackets.
        let address = HTTPPeerAddress(target.address)
        if !address.isIPv4 { writer.append(byte: UInt8(ascii: "[")) }
        writer.append(peerAddress: address)
        if !address.isIPv4 { writer.append(byte: UInt8(ascii: "]")) }
        writer.append(byte: UInt8(ascii: ":"))
        writer.append(decimal: Int(target.port))
        writer.append("\r\nUser-Agent: mtcp-httpd health check\r\nConnection: close\r\n\r\n")
        connections[index].output = PendingOutput(head: writer.written)
        connections[index].usesForwardBuffer(upTo: writer.count)
        return index
    }

    /// Events of a check's connection: connected, room for the request, the answer.
    mutating func serveHealthCheck(_ index: Int, _ context: inout SocketContext<Device>) {
        if connections[index].isConnecting {
            guard isUpstreamConnected(index, &context) else { return }
            connections[index].isConnecting = false
        }
        if !connections[index].output.isEmpty {
            guard writeOutput(index, &context) else { return }
        }
        let buffer = memory.request(index)
        while true {
            let count: Int
            do {
                count = try receive(index, into: buffer, &context)
            } catch .wouldBlock {
                return
            } catch {
                return finishHealthCheck(index, passed: false, &context)
            }
            guard count > 0 else { return finishHealthCheck(index, passed: false, &context) }
            connections[index].usesRequestBuffer(upTo: count)
            let answer = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            guard (try? connections[index].response.parse(answer, body: { _ in })) != nil else {
                return finishHealthCheck(index, passed: false, &context)
            }
            if connections[index].response.isHeadComplete {
                let status = connections[index].response.status
                return finishHealthCheck(index, passed: (200..<400).contains(status), &context)
            }
        }
    }

    /// Records the check's result and closes its connection (a reset: the rest
    /// of the answer is of no use).
    mutating func finishHealthCheck(_ index: Int, passed: Bool, _ context: inout SocketContext<Device>) {
        guard connections[index].isOpen, connections[index].isHealthCheck else { return }
        let server = connections[index].server
        if upstreams.servers.indices.contains(server) && upstreams.servers[server].checkSocket == connections[index].socket {
            if let healthy = upstreams.recordCheck(server, passed: passed) {
                let member = upstreams.servers[server]
                eventLog.upstreamHealthChanged(pool: upstreams.poolName(of: server), address: member.address,
                                             port: member.port, healthy: healthy)
            }
        }
        closeConnection(index, &context, reset: true)  // which forgets the check
    }
}
