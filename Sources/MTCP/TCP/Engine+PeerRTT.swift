/// The engine's side of `PeerRTTCache`: a handshake starts from the RTT its
/// peer's last connection measured, and a connection that ends well leaves its
/// own for the next one.
extension Engine {
    /// Times the SYN or SYN-ACK of a connection just opened from the peer's
    /// cached estimate, when there is one that brings the first timeout forward.
    /// Not for a SYN-cookie open: its SYN-ACK had no timer to shorten.
    mutating func timeHandshakeFromPeerRTT(_ connection: UnsafeMutablePointer<TCPConnection>, now: Instant) {
        guard tcp.configuration.peerRTTCache,
              let cached = tcp.peerRTT.estimate(for: connection.pointee.tuple.remoteAddress, now: now),
              connection.pointee.rtt.seedHandshakeTimeout(smoothed: cached.smoothed, variance: cached.variance)
        else { return }
        tcp.statistics.cachedRTTOpens &+= 1
    }

    /// Keeps an ended connection's SRTT and RTTVAR for its peer, dated by the
    /// last segment heard from the peer, unless it measured none or ended in an
    /// error (a timeout's or a reset's estimate is of a path that failed).
    mutating func keepPeerRTT(of connection: UnsafeMutablePointer<TCPConnection>, _ requests: ConnectionRequests) {
        guard tcp.configuration.peerRTTCache, !requests.contains(.endedInError),
              let smoothed = connection.pointee.rtt.smoothedRTT, let variance = connection.pointee.rtt.rttVariance
        else { return }
        tcp.peerRTT.store(.init(smoothed: smoothed, variance: variance),
                          for: connection.pointee.tuple.remoteAddress, heardAt: connection.pointee.lastActivity)
    }
}
