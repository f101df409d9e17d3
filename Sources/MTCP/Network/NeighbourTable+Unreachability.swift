/// Neighbor Unreachability Detection (RFC 4861 §7.3) for the families that
/// follow it (IPv6): an entry past its reachable time is STALE and goes on
/// being used; the first frame sent through it starts DELAY, which gives the
/// neighbour `delayFirstProbeTime` to be confirmed (an advertisement answering
/// any solicitation, or a new one from it); then PROBE sends up to
/// `maxUnicastSolicitations` unicast solicitations `retransmitTimer` apart; no
/// answer after the last makes the entry unusable (Linux's FAILED), and the
/// next frame starts a resolution again (INCOMPLETE, in the engine's
/// `ResolutionQueue`). IPv4 keeps ARP's simpler grace (`staleGrace`).
///
/// The NUD timer of an entry is its way's second stamp word (outside the
/// seqlock, like the "in use" stamp: cores move it with a compare-and-swap, so
/// one core sends each probe; a race with a writer costs at most a probe). It
/// is 0 while no timer runs (REACHABLE or STALE), else a `UnreachabilityTimer`
/// whose low bit is always set, so that no deadline can ever read as "no timer".
extension NeighbourTable {
    /// RFC 4861 §10: DELAY_FIRST_PROBE_TIME.
    public static var delayFirstProbeTime: TimeSpan { .seconds(5) }
    /// RFC 4861 §10: RetransTimer, the time between unicast probes.
    public static var retransmitTimer: TimeSpan { .seconds(1) }
    /// RFC 4861 §10: MAX_UNICAST_SOLICIT.
    public static var maxUnicastSolicitations: UInt64 { 3 }

    /// `resolve` for a NUD family: see the extension's comment.
    @inline(__always)
    func resolveFollowingUnreachabilityDetection(_ entry: Found, in bucket: Int, now: Instant)
        -> (mac: MACAddress?, probe: Bool) {
        guard entry.expiresAt <= now else { return (entry.mac, false) }  // REACHABLE
        let timer = nextProbe(bucket, entry.way)
        let word = timer.pointee.load(ordering: .relaxed)
        if word == 0 {
            // STALE, and a frame goes out: DELAY (§7.3.3).
            let delay = UnreachabilityTimer(deadline: now + Self.delayFirstProbeTime, probesSent: 0)
            _ = timer.pointee.compareExchange(expected: 0, desired: delay.word, ordering: .relaxed)
            return (entry.mac, false)
        }
        let running = UnreachabilityTimer(word: word)
        guard now.nanoseconds >= running.deadline else { return (entry.mac, false) }  // DELAY or PROBE, waiting
        guard running.probesSent < Self.maxUnicastSolicitations else { return (nil, false) }  // FAILED
        let next = UnreachabilityTimer(deadline: now + Self.retransmitTimer, probesSent: running.probesSent + 1)
        let won = timer.pointee.compareExchange(expected: word, desired: next.word, ordering: .relaxed).exchanged
        return (entry.mac, won)
    }

    /// Whether the NUD timer `word` says every probe went unanswered by `now`.
    static func hasFailed(timer word: UInt64, now: Instant) -> Bool {
        guard word != 0 else { return false }
        let timer = UnreachabilityTimer(word: word)
        return timer.probesSent >= maxUnicastSolicitations && now.nanoseconds >= timer.deadline
    }

    /// The state Linux's `ip -6 neigh` would show for `address` (nil: no entry;
    /// INCOMPLETE is a next hop waiting in an engine's `ResolutionQueue`).
    public func state(of address: Address, now: Instant) -> NeighbourState? {
        let bucket = bucket(for: address)
        guard let entry = find(address, in: bucket) else { return nil }
        if entry.state == .staticEntry { return .permanent }
        if now < entry.expiresAt { return .reachable }
        guard Address.followsUnreachabilityDetection else {
            return now < entry.expiresAt + Self.staleGrace ? .stale : .failed
        }
        let word = nextProbe(bucket, entry.way).pointee.load(ordering: .relaxed)
        if word == 0 { return .stale }
        if Self.hasFailed(timer: word, now: now) { return .failed }
        return UnreachabilityTimer(word: word).probesSent == 0 ? .delay : .probe
    }
}

/// A neighbour cache entry's state, as Linux names them (RFC 4861 §7.3.2).
public enum NeighbourState: Equatable, Sendable {
    case reachable, stale, delay, probe, failed, permanent
}

/// A running NUD timer in one word: the deadline (to 8 ns), the unicast probes
/// sent so far (0 in DELAY) in bits 1-2, and bit 0 set.
struct UnreachabilityTimer {
    let word: UInt64

    init(word: UInt64) { self.word = word }

    init(deadline: Instant, probesSent: UInt64) {
        word = deadline.nanoseconds & ~0b111 | probesSent << 1 | 1
    }

    var deadline: UInt64 { word & ~0b111 }
    var probesSent: UInt64 { word >> 1 & 0b11 }
}
