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
    static func flight(_ estimator: inout DeliveryRateEstimator, from end: SequenceNumber, acknowledged: inout Int,
                       segments: Int, now: Instant, rtt: TimeSpan) -> (rate: Double, end: SequenceNumber) {
        var sent = end
        for index in 0..<segments {
            estimator.sent(end: sent + segment, inFlightBefore: index * segment, now: now)
            sent = sent + segment
        }
        var highest = 0.0
        var acknowledgment = end
        for pair in 0..<(segments / 2) {
            acknowledgment = acknowledgment + 2 * segment
            let arrival = now + rtt + .microseconds(UInt64(pair * 4))
            let (_, sample) = estimator.acknowledged(advance: 2 * segment, sackedAbove: 0, acknowledgment: acknowledgment,
                                                     scoreboard: SACKScoreboard(), now: arrival)
            if let rate = sample?.bytesPerSecond(minimumInterval: .zero) { highest = max(highest, rate) }
        }
        acknowledged += segments * segment
        return (highest, sent)
    }

    @Test func aBurstLargerThanTheSlotsIsMeasuredWhole() {
        var estimator = DeliveryRateEstimator()
        var acknowledged = 0
        let rtt = TimeSpan.milliseconds(20)
        let first = Self.flight(&estimator, from: SequenceNumber(1000), acknowledged: &acknowledged, segments: 10,
                                now: Self.start, rtt: rtt)
        let second = Self.flight(&estimator, from: first.end, acknowledged: &acknowledged, segments: 20,
                                 now: Self.start + rtt + .milliseconds(1), rtt: rtt)
        let flightRate = Double(20 * Self.segment) / 0.020
        #expect(second.rate >= 0.9 * flightRate && second.rate <= 1.01 * flightRate,
                "20 segments a round trip, not the \\(DeliveryRateEstimator.capacity) that held the slots")
    }
}
