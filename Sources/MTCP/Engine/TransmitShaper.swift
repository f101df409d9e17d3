/// A token bucket in front of the device: at most `megabitsPerSecond` of wire
/// time leaves the engine, counting each frame as Ethernet does on the line
/// (padded to 60 bytes, plus FCS 4, preamble and SFD 8, inter-frame gap 12).
///
/// It is consulted before a frame is built, not after: output it does not admit
/// stays on TCP's lists (control, ACK, data), so they hold the backlog a
/// saturated NIC would, and the order they are served in decides who waits.
/// Credit may go below zero by the last frame admitted, so the long-run rate is
/// exact while no frame is ever cut.
///
/// Every frame is charged; what waits for credit differs:
/// - waits (stays on its list): the control list (SYN, SYN-ACK and their
///   retransmissions), the ACK list, and each segment the data list sends
///   (new data, a tail loss probe of new data, FIN, the go-back-N resend after
///   a timeout);
/// - sent at once: what a connection sends outside a list turn, each bounded
///   by its windows or by one segment per timer expiry — a pure ACK the data
///   did not carry, fast and SACK-hole and RACK retransmissions, the first
///   resend after a timeout, the tail loss probe that resends the last
///   segment, the persist timer's probe and its override runt, resets of
///   aborted connections, challenge ACKs, ARP requests and announcements;
/// - sent while the line's queue has room, else refused and counted
///   (`admitsStatelessReply`): replies no connection keeps (resets for segments
///   without one, SYN-cookie SYN-ACKs, ICMP echo and ARP replies).
/// The debt is the line's queue, bounded as a NIC's ring is: replies stop at
/// `depth` (a millisecond of line), and the debt at `depth` plus the one frame
/// that may cross it (`debtLimit`), beyond which what must go anyway is
/// forgiven. So a flood holds the lists back by at most that after it ends.
struct TransmitShaper {
    /// 0: no shaping; the bucket then always has credit and nothing is counted.
    /// At most `maximumMegabitsPerSecond`.
    private let megabitsPerSecond: Int64
    /// In thousandths of a bit: `elapsed nanoseconds × Mbit/s` exactly.
    private var credit: Int64
    /// The most credit saved while idle: a millisecond of line time, at least
    /// two full frames, so a burst after a pause is bounded as on a real link.
    private let depth: Int64
    private var lastRefill: Instant

    static let framingBytes = 4 + 8 + 12
    static let minimumFrameBytes = 60
    private static let costPerByte: Int64 = 8 * 1000
    private static let fullFrameCost = Int64(1514 + framingBytes) * costPerByte

    /// 1 Pbit/s: far above any port, and low enough that a second's credit
    /// (nanoseconds × Mbit/s) fits in the credit's 64 bits.
    static let maximumMegabitsPerSecond: UInt64 = 1_000_000_000

    init(megabitsPerSecond: UInt64, now: Instant) {
        self.megabitsPerSecond = Int64(min(megabitsPerSecond, Self.maximumMegabitsPerSecond))
        let oneMillisecond = self.megabitsPerSecond * 1_000_000
        depth = max(oneMillisecond, 2 * Self.fullFrameCost)
        credit = megabitsPerSecond == 0 ? .max : depth
        lastRefill = now
    }

    var isShaping: Bool { megabitsPerSecond != 0 }

    /// Whether another frame may be built now.
    @inline(__always)
    var hasCredit: Bool { credit > 0 }

    /// Adds the credit earned since the last refill. A clock that went back
    /// earns nothing, and the reference stays where it was, so the interval is
    /// not credited twice when the clock comes forward again.
    @inline(__always)
    mutating func refill(now: Instant) {
        guard isShaping, now > lastRefill else { return }
        // Capped so the product cannot overflow after a long pause.
        let elapsed = min(now.since(lastRefill).nanoseconds, 1_000_000_000)
        lastRefill = now
        credit = min(depth, credit &+ Int64(elapsed) &* megabitsPerSecond)
    }

    /// Spends the wire time of a frame of `length` bytes (without FCS); the debt
    /// stops at `debtLimit`.
    @inline(__always)
    mutating func charge(frameLength length: Int) {
        guard isShaping else { return }
        let cost = Int64(max(length, Self.minimumFrameBytes) + Self.framingBytes) &* Self.costPerByte
        credit = max(credit &- cost, -debtLimit)
    }

    /// The most debt kept: `depth`, where replies stop, plus the one frame that
    /// may cross it, so a reply is never forgiven and they keep to the rate.
    private var debtLimit: Int64 { depth + Self.fullFrameCost }

    /// Whether a reply that no connection keeps may go now: while the line's
    /// queue (the debt) is shorter than `depth`, so such replies go ahead of
    /// the lists, as control does, but a flood of them cannot queue without end.
    @inline(__always)
    mutating func admitsStatelessReply(now: Instant) -> Bool {
        if credit <= -depth { refill(now: now) }
        return credit > -depth
    }
}
