import Testing
@testable import MTCP

/// Delivery-rate samples (draft-cheng-iccrg-delivery-rate-estimation) from a
/// few snapshot slots, against flights larger than the slots.
@Suite struct DeliveryRateEstimatorTests {
    static let segment = 1448
    static let start = Instant(nanoseconds: 1_000_000_000)

    /// Sends `segments` segments at `now` in one burst from `end`, then ACKs
    /// them two at a time `rtt` later, each ACK taken on its own; returns the
    /// highest rate sampled (bytes per second) and the new end.
    static func flight(_ estimator: inout DeliveryRateEstimator, from end: SequenceNumber, segments: Int,
                       now: Instant, rtt: TimeSpan) -> (rate: Double, end: SequenceNumber) {
        var sent = end
        for index in 0..<segments {
            estimator.sent(end: sent + segment, inFlightBefore: index * segment, now: now)
            sent = sent + segment
        }
        var highest = 0.0
        var acknowledgment = end
        var noRanges = SACKScoreboard()
        for pair in 0..<(segments / 2) {
            acknowledgment = acknowledgment + 2 * segment
            let arrival = now + rtt + .microseconds(UInt64(pair * 4))
            let (_, sample) = estimator.acknowledged(advance: 2 * segment, sackedAbove: 0, acknowledgment: acknowledgment,
                                                     scoreboard: &noRanges, now: arrival)
            if let rate = sample?.bytesPerSecond(minimumInterval: .zero) { highest = max(highest, rate) }
        }
        return (highest, sent)
    }

    @Test func aBurstLargerThanTheSlotsIsMeasuredWhole() {
        var estimator = DeliveryRateEstimator()
        let rtt = TimeSpan.milliseconds(20)
        let first = Self.flight(&estimator, from: SequenceNumber(1000), segments: 10, now: Self.start, rtt: rtt)
        let second = Self.flight(&estimator, from: first.end, segments: 20, now: Self.start + rtt + .milliseconds(1),
                                 rtt: rtt)
        let flightRate = Double(20 * Self.segment) / 0.020
        #expect(second.rate >= 0.9 * flightRate && second.rate <= 1.01 * flightRate,
                "20 segments a round trip, not the \(DeliveryRateEstimator.capacity) that held the slots")
    }

    /// A delivery between two sends ends the burst: the newest snapshot stays
    /// with its segment, whose sample then starts from what was delivered
    /// before it (BBR's rounds count from that).
    @Test func aDeliveryBetweenTwoSendsKeepsTheNewestSnapshot() {
        var estimator = DeliveryRateEstimator()
        let base = SequenceNumber(1000)
        func end(_ index: Int) -> SequenceNumber { base + (index + 1) * Self.segment }
        for index in 0..<8 { estimator.sent(end: end(index), inFlightBefore: index * Self.segment, now: Self.start) }
        estimator.sent(end: end(8), inFlightBefore: 8 * Self.segment, now: Self.start + .milliseconds(1))
        // Segment 8 took the newest slot from segment 7; a SACK of segment 7
        // alone (no snapshot now) delivers without freeing a slot.
        var board = SACKScoreboard()
        var blocks = SACKBlockList()
        blocks.append(SACKBlock(left: end(6).rawValue, right: end(7).rawValue))
        board.record(blocks, unacknowledged: base, maximum: end(9))
        let later = Self.start + .milliseconds(20)
        let (bytes, none) = estimator.acknowledged(advance: 0, sackedAbove: Self.segment, acknowledgment: base,
                                                   scoreboard: &board, now: later)
        #expect(bytes == Self.segment && none == nil)
        estimator.sent(end: end(9), inFlightBefore: 8 * Self.segment, now: later)
        // Segment 8's ACK: its snapshot was kept (sent 1 ms after the others,
        // delivered 0 when it left), not moved on to segment 9.
        var noRanges = SACKScoreboard()
        let (_, sample) = estimator.acknowledged(advance: 9 * Self.segment, sackedAbove: 0, acknowledgment: end(8),
                                                 scoreboard: &noRanges, now: later + .milliseconds(1))
        #expect(sample?.roundTripTime == .milliseconds(20))
        #expect(sample?.deliveredAtSend == 0)
        #expect(sample?.delivered == 9 * Self.segment)
    }
}
