import MTCP
import MTCPHTTP

/// A proxied exchange after the upstream switched protocols (101, a WebSocket
/// or any other `Upgrade`): the bytes of each side go to the other verbatim,
/// each direction read only as fast as the other side takes it (the bytes wait
/// in the reading side's own request buffer, never anywhere else). A side's
/// end of stream is passed on as a half-close (for an HTTPS client,
/// close_notify first); once both directions have ended, both connections
/// close. Silence both ways for the route's `upstream_read_ms` resets both.
extension HTTPServer {
    /// Moves what can be moved both ways between client `client` and its upstream.
    mutating func pumpTunnel(_ client: Int, _ context: inout SocketContext<Device>) {
        let upstream = Int(connections[client].peer)
        guard isPaired(client, with: upstream) else { return closeConnection(client, &context, reset: true) }
        guard carryTunnel(from: client, to: upstream, &context),
              carryTunnel(from: upstream, to: client, &context) else { return }
        if connections[client].tunnelWriteShut && connections[upstream].tunnelWriteShut {
            // Both directions ended cleanly: nothing is lost by closing.
            connections[client].peer = -1
            connections[upstream].peer = -1
            closeConnection(upstream, &context, reset: false)
            closeConnection(client, &context, reset: false)
        }
    }

    /// Writes what `target` owes, then moves `source`'s bytes to it until
    /// `source` would block or `target` has no room; passes `source`'s end of
    /// stream on. Returns false when the tunnel failed (both connections are then closed).
    ///
    /// Bytes wait in `source`'s request buffer while `target`'s output points
    /// at them: `source` is read again only once that output is written.
    private mutating func carryTunnel(from source: Int, to target: Int, _ context: inout SocketContext<Device>) -> Bool {
        while true {
            if !connections[target].output.isEmpty {
                guard writeOutput(target, &context) else { return connections[target].isOpen }
            }
            if connections[source].tunnelReadDone {
                return connections[target].tunnelWriteShut || shutDownTunnel(target, &context)
            }
            // A client's bytes that came right after its request head go first.
            var count = connections[source].buffered
            connections[source].buffered = 0
            if count == 0 {
                do {
                    count = try receive(source, into: memory.request(source), &context)
                } catch .wouldBlock {
                    return true
                } catch {
                    tunnelFailed(source, &context)
                    return false
                }
                guard count > 0 else {
                    // Passed on, an upstream's unsaid end would look complete to the client.
                    guard !connections[source].isUpstream || upstreamEndIsClean(source) else {
                        tunnelFailed(source, &context)
                        return false
                    }
                    connections[source].tunnelReadDone = true
                    continue
                }
                connections[source].usesRequestBuffer(upTo: count)
            }
            noteTunnelActivity(source, target, now: context.now)
            connections[target].output = PendingOutput(body: UnsafeRawBufferPointer(rebasing: memory.request(source)[0..<count]))
        }
    }

    /// Ends our direction towards `target` (its peer ended its own). Returns
    /// false when the tunnel failed; true also while an HTTPS close_notify waits
    /// for room (the next event of `target` tries again).
    private mutating func shutDownTunnel(_ target: Int, _ context: inout SocketContext<Device>) -> Bool {
        do {
            connections[target].tunnelWriteShut = try shutdownOutput(target, &context)
            return true
        } catch {
            tunnelFailed(target, &context)
            return false
        }
    }

    /// Either side failed: the other cannot be told more than a reset.
    private mutating func tunnelFailed(_ index: Int, _ context: inout SocketContext<Device>) {
        let other = Int(connections[index].peer)
        connections[index].peer = -1
        if other >= 0, connections[other].peer == Int32(index) {
            connections[other].peer = -1
            closeConnection(other, &context, reset: true)
        }
        closeConnection(index, &context, reset: true)
    }

    /// Bytes moved: the upstream's deadline (the sweep's timeout of a silent tunnel) starts again.
    private mutating func noteTunnelActivity(_ source: Int, _ target: Int, now: Instant) {
        let upstream = connections[source].isUpstream ? source : target
        connections[upstream].deadline = now + connections[upstream].timeouts.read
        connections[source].lastActivity = now
    }
}
