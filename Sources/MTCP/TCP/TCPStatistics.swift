/// TCP counters of one engine, in the spirit of Linux's `netstat -s`.
public struct TCPStatistics: Sendable, Equatable {
    public var activeOpens: UInt64 = 0
    public var passiveOpens: UInt64 = 0
    /// The IPv6 share of `activeOpens` and `passiveOpens` (IPv4's is the rest).
    public var activeOpensIPv6: UInt64 = 0
    public var passiveOpensIPv6: UInt64 = 0
    /// Connections whose handshake was timed from an earlier connection's RTT
    /// with the same peer (`PeerRTTCache`) instead of the 1 s default.
    public var cachedRTTOpens: UInt64 = 0
    /// Connections that reached ESTABLISHED.
    public var established: UInt64 = 0
    /// Connections that ended in an orderly close.
    public var closed: UInt64 = 0
    public var resetsReceived: UInt64 = 0
    public var resetsSent: UInt64 = 0
    public var segmentsReceived: UInt64 = 0
    public var segmentsSent: UInt64 = 0
    public var retransmittedSegments: UInt64 = 0
    public var fastRetransmits: UInt64 = 0
    public var timeouts: UInt64 = 0
    /// Tail loss probes sent (RFC 8985 §7).
    public var tlpProbes: UInt64 = 0
    /// Probes whose episode repaired a loss without a timeout: the probe resent
    /// the lost tail, or its ACK started fast recovery.
    public var tlpRecoveries: UInt64 = 0
    /// Losses RACK marked after the reordering window (RFC 8985 §6), starting a
    /// recovery that duplicate ACKs alone would not have started yet.
    public var rackMarkedLost: UInt64 = 0
    /// Timeouts found spurious by the timestamp echo (RFC 3522).
    public var spuriousTimeouts: UInt64 = 0
    /// Spurious timeouts whose window was restored (the Eifel response, RFC 4015).
    public var spuriousTimeoutsUndone: UInt64 = 0
    /// ACKs reporting a duplicate segment (D-SACK, RFC 2883): a retransmission
    /// of ours that was needless.
    public var duplicateSACKsReceived: UInt64 = 0
    public var challengeAcksSent: UInt64 = 0
    /// Challenge ACKs not sent: the connection sent one less than
    /// `TCPConnection.challengeAckInterval` ago.
    public var challengeAcksSuppressed: UInt64 = 0
    /// ACKs not sent for bare segments dropped as out of window or by PAWS:
    /// over the same per-connection limit.
    public var droppedSegmentAcksSuppressed: UInt64 = 0
    public var synCookiesSent: UInt64 = 0
    /// Returned ACKs checked for a cookie: only within a window after a SYN
    /// queue overflowed, so outside floods this stays at zero.
    public var synCookiesChecked: UInt64 = 0
    public var synCookiesAccepted: UInt64 = 0
    public var synCookiesRejected: UInt64 = 0
    /// A new connection was refused because a pool (control blocks, buffers) was empty.
    public var refusedNoResources: UInt64 = 0
    /// `connect` failed with EADDRNOTAVAIL: no free ephemeral port whose flow
    /// this core owns, or a requested local port another core would receive.
    public var localPortsExhausted: UInt64 = 0
    /// The accept queue of a listener was full.
    public var acceptQueueOverflows: UInt64 = 0
    public var badChecksum: UInt64 = 0
    public var malformed: UInt64 = 0
    public var outOfWindow: UInt64 = 0
    public var pawsRejected: UInt64 = 0
    public var outOfOrderSegments: UInt64 = 0
    public var outOfOrderRefused: UInt64 = 0
    public var delayedAcks: UInt64 = 0
    public var zeroWindowProbes: UInt64 = 0
    public var keepAliveProbes: UInt64 = 0

    public init() {}
}
