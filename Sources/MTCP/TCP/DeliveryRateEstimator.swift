/// The delivery rate of a connection, sampled as draft-cheng-iccrg-delivery-rate-
/// estimation describes, for a model-based congestion control (BBR).
///
/// The draft keeps a snapshot in every packet sent; the send buffer here is a
/// byte stream with no per-segment records, so a few segments in flight carry
/// one instead (`capacity`, taken as they leave while a slot is free; with
/// none free, the newest snapshot moves on to the segment just sent when
/// nothing was delivered between the two: a burst's last segment is its best
/// sample, as everything sent with it is delivered by the time of its ACK). Each
/// ACK that delivers a sampled segment yields a sample: the bytes delivered
/// between its sending and its delivery, over the longer of the send and ACK
/// intervals (so that neither a burst nor an ACK compression inflates it).
/// One sample per round trip is enough for BBR's ten-round maximum filter;
/// several give it a better chance to see the peak.
///
/// A retransmission makes a sampled segment's delivery ambiguous (which copy
/// arrived?), so its snapshot is dropped (Karn's rule, as for RTT samples).
struct DeliveryRateEstimator {
    static let capacity = 8

    /// Bytes delivered so far: cumulatively acknowledged or SACKed (C.delivered).
    /// A high-water mark of `acknowledged` plus what the scoreboard holds: SACKed
    /// bytes the scoreboard forgets (the receiver reneged, or a range fell off a
    /// full scoreboard) and are then acknowledged or SACKed again are not
    /// delivered twice, so a peer cannot inflate the rate by reneging.
    private(set) var delivered = 0
    /// Bytes cumulatively acknowledged so far.
    private var acknowledged = 0
    /// When `delivered` last grew (C.delivered_time).
    private var deliveredTime = Instant.zero
    /// When the most recently delivered sampled segment was sent (C.first_sent_time):
    /// the start of the send interval of the next sample.
    private var firstSentTime = Instant.zero
    /// Nonzero while the sender is application-limited (C.app_limited): until
    /// `delivered` passes it, samples show the application's rate, not the path's.
    private var applicationLimitedUntil = 0

    /// Bytes resent since the current ACK began to be handled: the congestion
    /// control sees what was in the network before them (Linux sets the window
    /// before it resends; here an ACK's repairs go out first).
    private(set) var resentDuringAck = 0
    /// Snapshots held, in the first `count` slots of the arrays below (which
    /// come last, so that the scalars share their lines).
    private var count = 0
    private var ends = InlineArray<8, UInt32>(repeating: 0)
    private var sentAt = InlineArray<8, Instant>(repeating: .zero)
    private var deliveredAtSend = InlineArray<8, Int>(repeating: 0)
    private var deliveredTimeAtSend = InlineArray<8, Instant>(repeating: .zero)
    private var firstSentTimeAtSend = InlineArray<8, Instant>(repeating: .zero)
    private var applicationLimitedAtSend = InlineArray<8, Bool>(repeating: false)

    /// New data left, ending before `end`: its snapshot is kept if a slot is
    /// free, or replaces the newest one sent in the same burst.
    @inline(__always)
    mutating func sent(end: SequenceNumber, inFlightBefore: Int, now: Instant) {
        if inFlightBefore == 0 {
            // Nothing in flight: the intervals restart here, not at the last delivery.
            firstSentTime = now
            deliveredTime = now
        }
        guard count < Self.capacity else {
            // Full: the first segments of a burst hold every slot, and their
            // samples count only what was delivered by the time of their own
            // ACKs (a flight of 20 measured as 8 with ACKs for every second
            // segment). The newest snapshot follows the burst to its end
            // instead: the same state at send, and more delivered at its ACK.
            guard deliveredAtSend[count - 1] == delivered,
                  applicationLimitedAtSend[count - 1] == (applicationLimitedUntil != 0) else { return }
            snapshot(end: end, now: now, into: count - 1)
            return
        }
        snapshot(end: end, now: now, into: count)
        count += 1
    }

    @inline(__always)
    private mutating func snapshot(end: SequenceNumber, now: Instant, into slot: Int) {
        ends[slot] = end.rawValue
        sentAt[slot] = now
        deliveredAtSend[slot] = delivered
        deliveredTimeAtSend[slot] = deliveredTime
        firstSentTimeAtSend[slot] = firstSentTime
        applicationLimitedAtSend[slot] = applicationLimitedUntil != 0
    }

    /// Data from `start` to `end` was sent again: snapshots of segments inside it
    /// no longer say which transmission was delivered.
    @inline(__always)
    mutating func retransmitted(from start: SequenceNumber, to end: SequenceNumber) {
        resentDuringAck += end - start
        guard count > 0 else { return }
        var kept = 0
        for index in 0..<count {
            let sampleEnd = SequenceNumber(ends[index])
            if sampleEnd > start && sampleEnd <= end { continue }
            move(index, to: kept)
            kept += 1
        }
        count = kept
    }

    /// The sender has nothing more to send and room in its windows: what is in
    /// flight is all there is, and samples until it is delivered measure the
    /// application (the draft's C.app_limited).
    @inline(__always)
    mutating func applicationLimited(inFlight: Int) {
        applicationLimitedUntil = max(delivered + inFlight, 1)
    }

    /// An ACK moved the cumulative acknowledgment by `advance` bytes (to
    /// `acknowledgment`) and leaves `sackedAbove` bytes SACKed above it (in
    /// `scoreboard`). Returns the bytes it delivered and the sample of the most
    /// recently sent segment it delivered, if any. `scoreboard` is only read:
    /// inout so that it comes by address (see `SACKScoreboard`).
    mutating func acknowledged(advance: Int, sackedAbove: Int, acknowledgment: SequenceNumber,
                               scoreboard: inout SACKScoreboard, now: Instant) -> (bytes: Int, sample: DeliveryRateSample?) {
        resentDuringAck = 0
        acknowledged += advance
        let newlyDelivered = acknowledged + sackedAbove - delivered
        guard newlyDelivered > 0 else { return (0, nil) }
        delivered += newlyDelivered
        deliveredTime = now
        if applicationLimitedUntil != 0 && delivered > applicationLimitedUntil { applicationLimitedUntil = 0 }
        var newest = -1
        var kept = 0
        var newestSentAt = Instant.zero
        var newestDeliveredAtSend = 0
        var newestDeliveredTimeAtSend = Instant.zero
        var newestFirstSentTime = Instant.zero
        var newestApplicationLimited = false
        for index in 0..<count {
            let end = SequenceNumber(ends[index])
            guard end <= acknowledgment || scoreboard.contains(end - 1) else {
                move(index, to: kept)
                kept += 1
                continue
            }
            if newest < 0 || deliveredAtSend[index] >= newestDeliveredAtSend {
                newest = index
                newestSentAt = sentAt[index]
                newestDeliveredAtSend = deliveredAtSend[index]
                newestDeliveredTimeAtSend = deliveredTimeAtSend[index]
                newestFirstSentTime = firstSentTimeAtSend[index]
                newestApplicationLimited = applicationLimitedAtSend[index]
            }
        }
        count = kept
        guard newest >= 0 else { return (newlyDelivered, nil) }
        firstSentTime = newestSentAt
        let sendInterval = newestSentAt.since(newestFirstSentTime)
        let ackInterval = now.since(newestDeliveredTimeAtSend)
        return (newlyDelivered, DeliveryRateSample(delivered: delivered - newestDeliveredAtSend,
                                                   interval: max(sendInterval, ackInterval),
                                                   roundTripTime: now.since(newestSentAt),
                                                   deliveredAtSend: newestDeliveredAtSend,
                                                   isApplicationLimited: newestApplicationLimited))
    }

    @inline(__always)
    private mutating func move(_ index: Int, to destination: Int) {
        guard index != destination else { return }
        ends[destination] = ends[index]
        sentAt[destination] = sentAt[index]
        deliveredAtSend[destination] = deliveredAtSend[index]
        deliveredTimeAtSend[destination] = deliveredTimeAtSend[index]
        firstSentTimeAtSend[destination] = firstSentTimeAtSend[index]
        applicationLimitedAtSend[destination] = applicationLimitedAtSend[index]
    }
}

/// One delivery rate sample (the draft's rate sample, rs).
struct DeliveryRateSample {
    /// Bytes delivered between the sampled segment's sending and its delivery.
    var delivered: Int
    /// Over which they were delivered: the longer of the send and ACK intervals.
    var interval: TimeSpan
    /// From the sampled segment's sending to its delivery (never a retransmission).
    var roundTripTime: TimeSpan
    /// `delivered` of the connection when the sampled segment left: BBR's round
    /// ends when a segment sent after the round began is delivered.
    var deliveredAtSend: Int
    /// The sampled segment left while the sender was application-limited.
    var isApplicationLimited: Bool

    /// Bytes per second, or nil for an interval too short to mean anything.
    @inline(__always)
    func bytesPerSecond(minimumInterval: TimeSpan) -> Double? {
        guard interval.nanoseconds > 0, !(interval < minimumInterval) else { return nil }
        return Double(delivered) * 1e9 / Double(interval.nanoseconds)
    }
}
