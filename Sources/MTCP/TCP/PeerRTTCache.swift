/// The round-trip times of recently closed connections by peer address, so that
/// a new connection with the same host times its SYN or SYN-ACK from them
/// instead of RFC 6298's blind 1 s: RFC 9040 §5's "temporal sharing" (a new
/// control block initialised from the cache, the cache updated when a
/// connection closes), applied to the handshake's timer only.
///
/// Why: a short flow whose SYN-ACK is lost otherwise waits a whole second for
/// it, on a path of a few milliseconds; at a few percent loss that wait is the
/// largest part of the mean completion time and sets its 99th percentile.
/// Linux keeps per-destination RTTs too (`tcp_metrics`) but only after the
/// handshake; its SYN-ACK timer stays at 1 s.
///
/// Only the handshake's first timeout is taken from an estimate, and only when
/// that brings it forward (`RTTEstimator.seedHandshakeTimeout`); the schedule
/// then goes on as without one, and SRTT stays the connection's own. An entry
/// that proves short (the path got slower, or a peer behind the same address
/// is farther away) costs one needless SYN or SYN-ACK and the handshake's RTT
/// sample (an answer to the first one may be the peer's late one, so it is not
/// taken): the data then starts at the RTO of a handshake that timed out (3 s
/// for an active open, RFC 6298 §5.7). Entries last heard of more than
/// `lifetime` ago are not used: paths change.
///
/// One cache per engine (no sharing between cores), direct-mapped: a peer's
/// slot comes from a keyed hash of its address (SipHash-1-3 under a random
/// key, as the flow table), and of two estimates for a slot the one heard from
/// last is kept. A closing connection's SRTT replaces the entry rather than
/// being averaged into it (RFC 9040 leaves `rtt_update` open): it is already
/// an average over that connection's life, the newest view of the path.
/// Losing an entry only means the default timeout, so neither collisions nor
/// an attacker who could force them does worse than having no cache.
struct PeerRTTCache: ~Copyable {
    /// An RTT estimate as RFC 6298 keeps it: SRTT and RTTVAR.
    struct Estimate: Equatable {
        var smoothed: TimeSpan
        var variance: TimeSpan
    }

    private struct Entry {
        var peer: IPAddress
        var estimate: Estimate
        var storedAt: Instant
    }

    /// How long an entry is used after the peer was last heard from.
    static let lifetime = TimeSpan.seconds(600)

    private let entries: UnsafeMutableBufferPointer<Entry>
    private let slotMask: Int
    private let key: SipHash

    /// - Parameter slots: entries kept, rounded up to a power of two.
    init(slots: Int, key: SipHash) {
        let count = 1 << (Int.bitWidth - (max(slots, 2) - 1).leadingZeroBitCount)
        entries = .allocate(capacity: count)
        // The unspecified address never opens a connection, so an empty slot
        // matches no peer.
        let empty = Entry(peer: IPAddress(IPv6Address(high: 0, low: 0)),
                          estimate: Estimate(smoothed: .zero, variance: .zero), storedAt: .zero)
        entries.initialize(repeating: empty)
        slotMask = count - 1
        self.key = key
    }

    deinit { entries.deallocate() }

    /// The estimate a connection with `peer` left less than `lifetime` ago.
    func estimate(for peer: IPAddress, now: Instant) -> Estimate? {
        let entry = entries[slot(of: peer)]
        guard entry.peer == peer, now.since(entry.storedAt) < Self.lifetime else { return nil }
        return entry.estimate
    }

    /// Keeps a closing connection's estimate, last heard from the peer at
    /// `heardAt`, unless its slot holds one heard from later (an idle
    /// connection closed long after its last segment must not displace it).
    mutating func store(_ estimate: Estimate, for peer: IPAddress, heardAt: Instant) {
        let slot = slot(of: peer)
        guard entries[slot].storedAt <= heardAt else { return }
        entries[slot] = Entry(peer: peer, estimate: estimate, storedAt: heardAt)
    }

    @inline(__always)
    private func slot(of peer: IPAddress) -> Int {
        Int(truncatingIfNeeded: key.tableHash(peer.v6.high, peer.v6.low)) & slotMask
    }
}
