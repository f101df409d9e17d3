import Testing
@testable import MTCP

/// BBR's model and window, driven with synthetic delivery: a path of 12.5 MB/s
/// (100 Mbit/s) and 10 ms, so one bandwidth-delay product is 125,000 bytes.
@Suite struct BBRTests {
    static let mss = 1448
    static let bandwidth = 12_500_000.0
    static let rtt = TimeSpan.milliseconds(10)
    static let bdp = 125_000

    /// A sender on that path: every call is one round, whose ACKs deliver what
    /// the window let out, at most the path's bandwidth times the round trip,
    /// as one rate sample at the path's rate (or `rate`).
    struct Sender {
        var congestion = CongestionControl(algorithm: .bbr, mss: BBRTests.mss)
        var delivered = 0
        var now = Instant(nanoseconds: 1_000_000_000)

        mutating func round(rate: Double = BBRTests.bandwidth, inFlightAfter: Int? = nil,
                            applicationLimited: Bool = false) {
            let bytes = min(congestion.cwnd, BBRTests.bdp * 2)
            let sentAt = delivered
            now = now + BBRTests.rtt
            delivered += bytes
            let interval = TimeSpan(nanoseconds: UInt64(Double(bytes) / rate * 1e9))
            let sample = DeliveryRateSample(delivered: bytes, interval: max(interval, BBRTests.rtt),
                                            roundTripTime: BBRTests.rtt, deliveredAtSend: sentAt,
                                            isApplicationLimited: applicationLimited)
            congestion.onDelivery(sample, newlyDelivered: bytes, delivered: delivered,
                                  inFlight: inFlightAfter ?? min(congestion.cwnd, BBRTests.bdp), now: now)
        }

        var mode: BBR.Mode? {
            if case .bbr(let bbr) = congestion.state { return bbr.mode }
            return nil
        }
    }

    @Test func startupGrowsUntilTheBandwidthStopsGrowingThenDrainsToTwoBDP() {
        var sender = Sender()
        #expect(sender.congestion.cwnd == 10 * Self.mss)
        sender.round(rate: 1_000_000)
        let afterFirst = sender.congestion.cwnd
        #expect(afterFirst > 10 * Self.mss, "STARTUP grows by what is delivered")
        // The rate the window allows grows until it meets the path's bandwidth.
        for _ in 0..<12 { sender.round(rate: min(Self.bandwidth, Double(sender.congestion.cwnd) / 0.010)) }
        #expect(sender.mode == .probeBandwidth, "three rounds without 25% more bandwidth end STARTUP")
        let target = 2 * Self.bdp + 3 * Self.mss
        #expect(abs(sender.congestion.cwnd - target) < Self.mss, "cwnd \(sender.congestion.cwnd), 2 BDP \(target)")
    }

    @Test func applicationLimitedSamplesDoNotLowerTheBandwidth() {
        var sender = Sender()
        for _ in 0..<15 { sender.round() }
        let cwnd = sender.congestion.cwnd
        for _ in 0..<12 { sender.round(rate: Self.bandwidth / 10, applicationLimited: true) }
        #expect(sender.congestion.cwnd == cwnd)
    }

    @Test func fastRecoveryConservesForARoundThenRestoresTheWindow() {
        var sender = Sender()
        for _ in 0..<15 { sender.round() }
        let before = sender.congestion.cwnd
        sender.congestion.onDuplicateAcksEnterRecovery(flightSize: 40_000, now: sender.now, sack: true)
        #expect(sender.congestion.cwnd == 40_000, "packet conservation starts from what is in flight")
        // Within the round: only what is delivered is replaced.
        sender.congestion.onDelivery(nil, newlyDelivered: 2 * Self.mss, delivered: sender.delivered + 2 * Self.mss,
                                     inFlight: 40_000, now: sender.now)
        #expect(sender.congestion.cwnd == 40_000 + 2 * Self.mss)
        sender.congestion.onRecoveryExit(flightSize: 0)
        #expect(sender.congestion.cwnd == before, "the window from before the recovery comes back")
        #expect(!sender.congestion.inRecovery)
    }

    @Test func aTimeoutStartsFromOneSegmentAndItsEndRestoresTheWindow() {
        var sender = Sender()
        for _ in 0..<15 { sender.round() }
        let before = sender.congestion.cwnd
        sender.congestion.onRetransmissionTimeout(flightSize: before, now: sender.now)
        #expect(sender.congestion.cwnd == Self.mss)
        sender.congestion.onDelivery(nil, newlyDelivered: Self.mss, delivered: sender.delivered + Self.mss,
                                     inFlight: 0, now: sender.now)
        #expect(sender.congestion.cwnd == 4 * Self.mss, "BBR's floor of four segments")
        sender.congestion.onTimeoutRecoveryEnd()
        #expect(sender.congestion.cwnd == before)
    }

    @Test func tenSecondsWithoutALowerRTTProbeItWithFourSegments() {
        var sender = Sender()
        for _ in 0..<15 { sender.round() }
        let before = sender.congestion.cwnd
        // Ten seconds of rounds whose RTT samples are all above the minimum.
        for _ in 0..<1_001 {
            sender.now = sender.now + .milliseconds(10)
            sender.congestion.onDelivery(nil, newlyDelivered: Self.mss, delivered: sender.delivered,
                                         inFlight: Self.bdp, now: sender.now)
        }
        #expect(sender.mode == .probeRoundTrip)
        #expect(sender.congestion.cwnd == 4 * Self.mss)
        // In flight falls to four segments: 200 ms and a round later PROBE_RTT ends.
        sender.round(inFlightAfter: 4 * Self.mss)
        #expect(sender.mode == .probeRoundTrip)
        sender.now = sender.now + .milliseconds(200)
        sender.round(inFlightAfter: 4 * Self.mss)
        #expect(sender.mode == .probeBandwidth)
        #expect(sender.congestion.cwnd >= before - Self.mss)
    }

    @Test func aWindowedMaximumForgetsRoundsOutsideItsWindow() {
        var maximum = WindowedMaximum()
        maximum.update(100, round: 0)
        maximum.update(50, round: 1)
        #expect(maximum.maximum == 100)
        maximum.update(60, round: 10)
        #expect(maximum.maximum == 60, "round 0 is eleven rounds old")
        maximum.update(70, round: 10)
        #expect(maximum.maximum == 70)
    }
}
