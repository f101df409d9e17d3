/// The state and arithmetic of Reno/NewReno congestion avoidance (RFC 5681 §3.1)
/// and of its multiplicative decrease (RFC 5681 eq. (4)). Slow start and the
/// fast-recovery mechanics (RFC 6582) are shared by all algorithms and live in
/// `CongestionControl`.
///
/// Congestion avoidance counts bytes, the way RFC 5681 §3.1 RECOMMENDS: the
/// acknowledged bytes are summed, and each time the sum reaches cwnd, cwnd grows
/// by one SMSS. The alternative the RFC allows, cwnd += SMSS*SMSS/cwnd per ACK
/// (eq. (3)), grows only half as fast behind a receiver that delays ACKs (one ACK
/// per two segments) and loses the fraction in integer arithmetic; byte counting
/// gives one SMSS per window of data acknowledged however the ACKs come.
struct NewReno: Sendable {
    /// Bytes acknowledged in congestion avoidance since cwnd last grew ("bytes_acked").
    var bytesAcked = 0

    /// One ACK in congestion avoidance. Grows cwnd by at most one SMSS per ACK
    /// (RFC 3465 §2.1: a stretch ACK does not buy several increments at once); the
    /// remainder is carried, bounded by one window so it cannot build up credit.
    @inline(__always)
    mutating func congestionAvoidance(cwnd: inout Int, ackedBytes: Int, mss: Int) {
        bytesAcked += ackedBytes
        if bytesAcked >= cwnd {
            bytesAcked = min(bytesAcked - cwnd, cwnd)
            cwnd += mss
        }
    }

    /// RFC 5681 eq. (4): ssthresh = max(FlightSize / 2, 2*SMSS). Half of what is in
    /// the network, not half of cwnd, so an application-limited sender whose cwnd
    /// ran ahead of its use does not keep a window it never proved.
    @inline(__always)
    static func ssthreshAfterLoss(flightSize: Int, mss: Int) -> Int {
        max(flightSize / 2, 2 * mss)
    }

    /// A loss ends the congestion-avoidance round: start counting afresh.
    @inline(__always)
    mutating func reset() { bytesAcked = 0 }
}
