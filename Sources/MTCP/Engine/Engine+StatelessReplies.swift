/// Replies that no connection keeps — a reset for a segment without one, a
/// SYN-cookie SYN-ACK, an ICMP echo reply, an ARP reply — are answered at once,
/// outside the output lists, so on a shaped line they are the one output that
/// can arrive faster than the line and that nobody retries from our side.
extension Engine {
    /// Whether the shaped line's queue is full for such a reply: it is then
    /// refused and counted, as a saturated NIC drops what its ring cannot take,
    /// instead of building a debt that would hold back every connection's output.
    @inline(__always)
    mutating func lineRefusesStatelessReply(now: Instant) -> Bool {
        guard !shaper.admitsStatelessReply(now: now) else { return false }
        statistics.statelessRepliesRefused &+= 1
        return true
    }
}
