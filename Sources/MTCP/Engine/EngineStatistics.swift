/// Counters of one engine (one core), read by statistics output and tests.
public struct EngineStatistics: Sendable, Equatable {
    public var receivedFrames: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    public var transmittedFrames: UInt64 = 0
    public var transmittedBytes: UInt64 = 0
    public var arpRequestsSent: UInt64 = 0
    public var arpRepliesSent: UInt64 = 0
    /// Neighbours forgotten to make room for new ones (the table was full).
    public var arpCacheEvictions: UInt64 = 0
    /// Neighbours that moved to another Ethernet address.
    public var arpMACChanges: UInt64 = 0
    /// MAC changes ignored because the entry was confirmed within `ARPTable.lockTime`.
    public var arpMACChangesIgnored: UInt64 = 0
    public var echoRepliesSent: UInt64 = 0
    public var echoRepliesReceived: UInt64 = 0
    /// Times a ready frame was held back because the line rate had no credit left.
    public var shapedFrames: UInt64 = 0
    /// Replies no connection keeps (a reset for a segment without one, a SYN-cookie
    /// SYN-ACK, an ICMP echo reply, an ARP reply) not sent: the shaped line's queue
    /// was full, as a saturated NIC drops them.
    public var statelessRepliesRefused: UInt64 = 0
    /// TCP segments that landed on this core and were handed to the core owning their flow.
    public var forwardedFrames: UInt64 = 0
    /// TCP segments the port delivered to this core though, by the port's RSS as
    /// the stack predicts it (steered), another core owns their flow: the port
    /// spreads otherwise than the stack thinks, and connect's port choice fails.
    public var steeringMismatches: UInt64 = 0
    /// The exception path: frames (and bytes) handed to the kernel, and sent for it.
    public var framesToKernel: UInt64 = 0
    public var bytesToKernel: UInt64 = 0
    public var framesFromKernel: UInt64 = 0
    public var bytesFromKernel: UInt64 = 0
    public var drops = DropCounters()
    // IPv6 (RFC 4443, RFC 4861, RFC 4862)
    public var icmpv6EchoRepliesSent: UInt64 = 0
    /// IPv6 packets received by an engine with IPv6 on (of `receivedFrames`).
    public var ipv6ReceivedPackets: UInt64 = 0
    public var icmpv6ErrorsSent: UInt64 = 0
    /// Errors not sent because the budget was spent (`ICMPv6ErrorBudget`).
    public var icmpv6ErrorsRateLimited: UInt64 = 0
    public var neighborSolicitationsSent: UInt64 = 0
    public var neighborAdvertisementsSent: UInt64 = 0
    /// Our addresses another node turned out to hold (duplicate address detection).
    public var duplicateAddressesDetected: UInt64 = 0

    public init() {}
}
