import Testing
@testable import MTCP

/// The seam and the parts every algorithm shares (IW, slow start, fast recovery,
/// timeout, idle restart), driven through NewReno unless the test says otherwise.
@Suite struct CongestionControlTests {
    static let mss = 1460
    /// The algorithms that grow the window per ACK and cut it on loss (BBR sets
    /// it from its model on delivery instead: BBRTests).
    static let lossBased: [CongestionControl.Algorithm] = [.newReno, .cubic]
    static let t0 = Instant(nanoseconds: 1_000_000_000)

    /// One ACK per `segmentsPerAck` segments, with the window full before each.
    static func ack(_ cc: inout CongestionControl, segments: Int, segmentsPerAck: Int = 1) {
        var left = segments
        while left > 0 {
            let n = min(left, segmentsPerAck)
            cc.onAck(ackedBytes: n * cc.mss, now: t0, rtt: .milliseconds(10), inFlightBeforeAck: cc.cwnd)
            left -= n
        }
    }

    /// NewReno in congestion avoidance with cwnd = ssthresh = `segments` SMSS:
    /// a timeout with twice that in flight, then slow start up to ssthresh.
    static func inCongestionAvoidance(segments: Int, algorithm: CongestionControl.Algorithm = .newReno) -> CongestionControl {
        var cc = CongestionControl(algorithm: algorithm, mss: mss)
        cc.onRetransmissionTimeout(flightSize: 2 * segments * mss, now: t0)
        ack(&cc, segments: segments - 1)
        return cc
    }

    @Test(arguments: [(1460, 14600), (536, 5360), (1000, 10000), (9000, 18000), (100, 1000)])
    func initialWindowFollowsRFC6928(mss: Int, expected: Int) {
        let cc = CongestionControl(algorithm: .newReno, mss: mss)
        #expect(cc.initialWindow == expected)
        #expect(cc.cwnd == expected)
    }

    @Test func otherInitialWindowSizes() {
        #expect(CongestionControl(algorithm: .newReno, mss: 1460, initialWindowSegments: 1).cwnd == 1460)
        #expect(CongestionControl(algorithm: .newReno, mss: 1460, initialWindowSegments: 4).cwnd == 5840)
        #expect(CongestionControl(algorithm: .cubic, mss: 9000, initialWindowSegments: 4).cwnd == 18000)
    }

    @Test(arguments: CongestionControl.Algorithm.allCases)
    func startsInSlowStartWithInfiniteThreshold(algorithm: CongestionControl.Algorithm) {
        let cc = CongestionControl(algorithm: algorithm, mss: Self.mss)
        #expect(cc.algorithm == algorithm)
        #expect(cc.ssthresh == .max)
        #expect(cc.inSlowStart)
        #expect(!cc.inRecovery)
    }

    @Test(arguments: Self.lossBased)
    func slowStartAddsOneSMSSPerAckUpToSSThresh(algorithm: CongestionControl.Algorithm) {
        var cc = CongestionControl(algorithm: algorithm, mss: Self.mss)
        cc.onRetransmissionTimeout(flightSize: 40 * Self.mss, now: Self.t0)
        let ssthresh = algorithm == .newReno ? 20 * Self.mss : 14600 * 7 / 10   // flight/2 or 0.7*cwnd
        #expect(cc.ssthresh == ssthresh)
        #expect(cc.cwnd == Self.mss)
        var expected = Self.mss
        while expected < ssthresh {
            Self.ack(&cc, segments: 1)
            expected = min(expected + Self.mss, ssthresh)
            #expect(cc.cwnd == expected)
        }
        #expect(!cc.inSlowStart)
    }

    @Test func slowStartCountsEveryAcknowledgedByte() {
        var cc = CongestionControl(algorithm: .newReno, mss: Self.mss)
        cc.onAck(ackedBytes: 2 * Self.mss, now: Self.t0, rtt: nil, inFlightBeforeAck: cc.cwnd)   // delayed ACK
        #expect(cc.cwnd == 14600 + 2 * Self.mss)
        cc.onAck(ackedBytes: 100, now: Self.t0, rtt: nil, inFlightBeforeAck: cc.cwnd)
        #expect(cc.cwnd == 14600 + 2 * Self.mss + 100)
    }

    @Test func aStretchACKOfTheInitialWindowDoublesIt() {
        // A receiver that read the whole initial window in one poll acknowledges it
        // once: the window doubles as with an ACK per segment (RFC 9002 §7.3.1),
        // so the 13 segments left of a 32 KiB response go in the next round trip.
        var cc = CongestionControl(algorithm: .newReno, mss: Self.mss)
        cc.onAck(ackedBytes: 14600, now: Self.t0, rtt: nil, inFlightBeforeAck: 14600)
        #expect(cc.cwnd == 2 * 14600)
        var capped = CongestionControl(algorithm: .newReno, mss: Self.mss)
        capped.onRetransmissionTimeout(flightSize: 8 * Self.mss, now: Self.t0)
        capped.onAck(ackedBytes: 10 * Self.mss, now: Self.t0, rtt: nil, inFlightBeforeAck: capped.cwnd)
        #expect(capped.cwnd == capped.ssthresh, "still not past ssthresh")
    }

    @Test func newRenoCongestionAvoidanceGrowsOneSMSSPerRTT() {
        var cc = Self.inCongestionAvoidance(segments: 20)
        #expect(cc.cwnd == 20 * Self.mss && cc.ssthresh == 20 * Self.mss)
        for round in 1...10 {
            Self.ack(&cc, segments: cc.cwnd / Self.mss)   // one window of ACKs = one RTT
            #expect(cc.cwnd == (20 + round) * Self.mss)
        }
    }

    @Test func newRenoCongestionAvoidanceIsNotSlowedByDelayedAcks() {
        var cc = Self.inCongestionAvoidance(segments: 20)
        for round in 1...10 {
            Self.ack(&cc, segments: cc.cwnd / Self.mss, segmentsPerAck: 2)
            #expect(cc.cwnd == (20 + round) * Self.mss)
        }
    }

    @Test func newRenoCongestionAvoidanceWithinOneRTTIsSublinear() {
        var cc = Self.inCongestionAvoidance(segments: 20)
        Self.ack(&cc, segments: 19)
        #expect(cc.cwnd == 20 * Self.mss)   // not yet a window's worth
        Self.ack(&cc, segments: 1)
        #expect(cc.cwnd == 21 * Self.mss)
    }

    @Test func fastRecoveryFollowsRFC6582() {
        let smss = Self.mss
        var cc = Self.inCongestionAvoidance(segments: 20)
        cc.onDuplicateAcksEnterRecovery(flightSize: 20 * smss, now: Self.t0)
        #expect(cc.inRecovery)
        #expect(cc.ssthresh == 10 * smss)            // max(FlightSize/2, 2*SMSS)
        #expect(cc.cwnd == 13 * smss)                // ssthresh + 3*SMSS
        cc.onDuplicateAckInRecovery()
        cc.onDuplicateAckInRecovery()
        #expect(cc.cwnd == 15 * smss)                // inflated by SMSS per dupack
        cc.onAck(ackedBytes: smss, now: Self.t0, rtt: nil, inFlightBeforeAck: cc.cwnd)
        #expect(cc.cwnd == 15 * smss)                // onAck is not for recovery
        cc.onPartialAck(ackedBytes: 3 * smss)
        #expect(cc.cwnd == 13 * smss)                // -3 SMSS acked, +1 SMSS
        cc.onPartialAck(ackedBytes: 500)
        #expect(cc.cwnd == 13 * smss - 500)          // less than SMSS: no add-back
        cc.onRecoveryExit(flightSize: 15 * smss)
        #expect(!cc.inRecovery)
        #expect(cc.cwnd == 10 * smss)                // min(ssthresh, FlightSize + SMSS)
        #expect(cc.ssthresh == 10 * smss)
    }

    @Test func sackRecoveryStartsAtSSThreshWithoutInflation() {
        // RFC 6675 §5 (4.2): with SACK the segments that left the network are
        // subtracted from pipe, so cwnd is not inflated by them as well.
        var cc = Self.inCongestionAvoidance(segments: 20)
        cc.onDuplicateAcksEnterRecovery(flightSize: 20 * Self.mss, now: Self.t0, sack: true)
        #expect(cc.inRecovery)
        #expect(cc.ssthresh == 10 * Self.mss && cc.cwnd == 10 * Self.mss)
    }

    @Test func recoveryExitWithLittleInFlightSlowStartsBackToSSThresh() {
        let smss = Self.mss
        var cc = Self.inCongestionAvoidance(segments: 20)
        cc.onDuplicateAcksEnterRecovery(flightSize: 20 * smss, now: Self.t0)
        cc.onRecoveryExit(flightSize: 2 * smss)
        #expect(cc.cwnd == 3 * smss)                 // max(FlightSize, SMSS) + SMSS
        #expect(cc.inSlowStart)
        cc.onDuplicateAcksEnterRecovery(flightSize: 0, now: Self.t0)
        cc.onRecoveryExit(flightSize: 0)
        #expect(cc.ssthresh == 2 * smss)
        #expect(cc.cwnd == 2 * smss)                 // max(0, SMSS) + SMSS
    }

    @Test func recoveryCallsOutsideRecoveryAreIgnored() {
        var cc = Self.inCongestionAvoidance(segments: 20)
        cc.onDuplicateAckInRecovery()
        cc.onPartialAck(ackedBytes: 5 * Self.mss)
        cc.onRecoveryExit(flightSize: 0)
        #expect(cc.cwnd == 20 * Self.mss)
        cc.onDuplicateAcksEnterRecovery(flightSize: 20 * Self.mss, now: Self.t0)
        cc.onDuplicateAcksEnterRecovery(flightSize: 13 * Self.mss, now: Self.t0)   // a second loss in the same window
        #expect(cc.ssthresh == 10 * Self.mss)
        #expect(cc.cwnd == 13 * Self.mss)
    }

    @Test func smallPartialAckNeverLeavesLessThanOneSegment() {
        var cc = Self.inCongestionAvoidance(segments: 4)
        cc.onDuplicateAcksEnterRecovery(flightSize: 4 * Self.mss, now: Self.t0)
        #expect(cc.cwnd == 5 * Self.mss)
        cc.onPartialAck(ackedBytes: 5 * Self.mss - 1)
        #expect(cc.cwnd == Self.mss + 1)              // 1 byte left, plus SMSS back
        cc.onPartialAck(ackedBytes: 1000)
        #expect(cc.cwnd == Self.mss)                  // 461 bytes would not fit the retransmission
    }

    @Test func timeoutCollapsesToTheLossWindow() {
        var cc = Self.inCongestionAvoidance(segments: 30)
        cc.onRetransmissionTimeout(flightSize: 24 * Self.mss, now: Self.t0)
        #expect(cc.cwnd == Self.mss)
        #expect(cc.ssthresh == 12 * Self.mss)
        // A second timeout for the same segment keeps ssthresh (RFC 5681 §3.1 note).
        cc.onRetransmissionTimeout(flightSize: Self.mss, now: Self.t0, repeated: true)
        #expect(cc.ssthresh == 12 * Self.mss)
        #expect(cc.cwnd == Self.mss)
        // With almost nothing in flight ssthresh bottoms out at 2 SMSS.
        cc.onRetransmissionTimeout(flightSize: Self.mss, now: Self.t0)
        #expect(cc.ssthresh == 2 * Self.mss)
    }

    @Test func timeoutDuringRecoveryLeavesItWithoutCuttingSSThreshAgain() {
        var cc = Self.inCongestionAvoidance(segments: 20)
        cc.onDuplicateAcksEnterRecovery(flightSize: 20 * Self.mss, now: Self.t0)
        cc.onRetransmissionTimeout(flightSize: 20 * Self.mss, now: Self.t0)
        #expect(!cc.inRecovery)
        #expect(cc.cwnd == Self.mss)
        #expect(cc.ssthresh == 10 * Self.mss)
    }

    @Test(arguments: Self.lossBased)
    func applicationLimitedSenderDoesNotGrow(algorithm: CongestionControl.Algorithm) {
        var slow = CongestionControl(algorithm: algorithm, mss: Self.mss)
        slow.onAck(ackedBytes: Self.mss, now: Self.t0, rtt: nil, inFlightBeforeAck: slow.cwnd, applicationLimited: true)
        #expect(slow.cwnd == 14600)
        slow.onAck(ackedBytes: Self.mss, now: Self.t0, rtt: nil, inFlightBeforeAck: 7300)   // half the window unused
        #expect(slow.cwnd == 14600)
        slow.onAck(ackedBytes: Self.mss, now: Self.t0, rtt: nil, inFlightBeforeAck: 7301)
        #expect(slow.cwnd == 14600 + Self.mss)

        var avoid = Self.inCongestionAvoidance(segments: 20, algorithm: algorithm)
        let before = avoid.cwnd
        var now = Self.t0
        for _ in 0..<200 {
            now = now + .milliseconds(5)
            avoid.onAck(ackedBytes: Self.mss, now: now, rtt: .milliseconds(10), inFlightBeforeAck: before, applicationLimited: true)
            avoid.onAck(ackedBytes: Self.mss, now: now, rtt: .milliseconds(10), inFlightBeforeAck: before - Self.mss)
        }
        #expect(avoid.cwnd == before)
    }

    @Test(arguments: Self.lossBased)
    func idleLongerThanRTORestartsFromTheInitialWindow(algorithm: CongestionControl.Algorithm) {
        var cc = CongestionControl(algorithm: algorithm, mss: Self.mss)
        Self.ack(&cc, segments: 20)
        #expect(cc.cwnd == 30 * Self.mss)
        let rto = TimeSpan.milliseconds(300)
        let notIdleLongEnough = cc.onIdle(since: Self.t0, now: Self.t0 + rto, rto: rto)
        #expect(!notIdleLongEnough)
        #expect(cc.cwnd == 30 * Self.mss)
        let restarted = cc.onIdle(since: Self.t0, now: Self.t0 + rto + .milliseconds(1), rto: rto)
        #expect(restarted)
        #expect(cc.cwnd == 14600)
        #expect(cc.ssthresh == .max)

        // The restart window never raises a cwnd below IW.
        cc.onRetransmissionTimeout(flightSize: 10 * Self.mss, now: Self.t0)
        cc.onIdle(since: Self.t0, now: Self.t0 + .seconds(10), rto: rto)
        #expect(cc.cwnd == Self.mss)
    }

    @Test func stateIsSmallAndInline() {
        // No references: the whole controller is a few words kept inside the
        // TCB (twice, with the copy kept for an Eifel undo); BBR's model is
        // the largest state.
        #expect(MemoryLayout<CongestionControl>.size <= 192)
        #expect(MemoryLayout<RTTEstimator>.size <= 80)
    }
}
