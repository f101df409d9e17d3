import MTCP
import MTCPTLS

/// HTTPS to the servers of a pool with `tls`: each upstream connection gets a
/// client TLS stream when it opens, and is not connected (`isConnecting`)
/// until its handshake is done, so the handshake runs under the connect
/// timeout and fails as a refused connect does: the server skipped, an
/// idempotent request retried once elsewhere, else 502. From then on its
/// bytes pass through `receive`/`send` like an HTTPS client's; it is parked
/// with its stream, and says close_notify when it closes (`closeConnection`).
/// Plain pools never reach any of this.
extension HTTPServer {
    /// A client stream for a new connection to `server`, when the server speaks
    /// HTTPS (`.some(nil)` when OpenSSL could not make one); nil for plain HTTP.
    /// Inlined: called, a non-mutating method gets the server as a value, and
    /// `openConnection` copied all 2.3 KB of it for every upstream connection.
    @inline(__always)
    func upstreamStream(for server: Int) -> TLSStream?? {
        guard upstreamTLS.isSecure(server) else { return nil }
        return .some(upstreamTLS.stream(for: server))
    }

    /// Whether upstream connection `index` is connected: the TCP handshake
    /// done and, for HTTPS, the TLS handshake too. A TLS handshake that fails
    /// (a certificate refused among the reasons) fails the connection as a
    /// refused connect does, counted.
    mutating func isUpstreamConnected(_ index: Int, _ context: inout SocketContext<Device>) -> Bool {
        let socket = connections[index].socket
        guard let state = context.state(of: socket), state.isSynchronized else { return false }
        guard let stream = connections[index].tls, !connections[index].tlsEstablished else { return true }
        do {
            guard try stream.handshake(socket, &context, scratch: tlsScratch) else { return false }
        } catch {
            if case .failed(let failure) = error { upstreamTLSFailed(index, failure) }
            upstreamFailed(index, .badGateway, &context)
            return false
        }
        connections[index].tlsEstablished = true
        statistics.upstreamTLSHandshakes &+= 1
        if stream.isResumed { statistics.upstreamTLSResumed &+= 1 }
        return true
    }

    /// Counts and logs a TLS failure of upstream connection `index`; the caller fails the connection.
    mutating func upstreamTLSFailed(_ index: Int, _ failure: TLSFailure) {
        var failure = failure
        failure.duringHandshake = !connections[index].tlsEstablished
        let server = connections[index].server
        statistics.upstreamTLSFailures &+= 1
        upstreams.recordTLSFailure(server)
        guard upstreams.servers.indices.contains(server) else { return }  // of a replaced configuration
        let member = upstreams.servers[server]
        eventLog.upstreamTLSFailed(failure, verification: connections[index].tls?.verificationFailure,
                                   pool: upstreams.poolName(of: server), address: member.address, port: member.port,
                                   connection: index, second: clock.second)
    }

    /// Whether upstream connection `index`'s end of stream is one its server
    /// meant: any FIN of plain HTTP, over TLS only one after close_notify. A
    /// bare FIN, which anyone on the path can forge (a truncation attack) and
    /// a crashed server leaves, must not complete a close-delimited response:
    /// it is counted, and the caller fails the exchange (the client is reset).
    mutating func upstreamEndIsClean(_ index: Int) -> Bool {
        guard let stream = connections[index].tls, !stream.receivedCloseNotify else { return true }
        statistics.upstreamTLSTruncations &+= 1
        return false
    }

    /// Keeps the session of upstream connection `index`, after its first
    /// exchange (a TLS 1.3 ticket has arrived by then), for its server's next
    /// connection; once per connection, as a session is copied to be kept.
    func keepUpstreamSession(_ index: Int) {
        guard let stream = connections[index].tls, !connections[index].wasReused else { return }
        upstreamTLS.keepSession(of: stream, server: connections[index].server)
    }
}
