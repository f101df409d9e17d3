import Testing
@testable import MTCP

@Suite struct RTTEstimatorTests {
    static func ms(_ value: UInt64) -> TimeSpan { .milliseconds(value) }

    @Test func startsWithTheOneSecondInitialRTO() {
        let estimator = RTTEstimator()
        #expect(estimator.rto == .seconds(1))
        #expect(estimator.smoothedRTT == nil)
        #expect(estimator.rttVariance == nil)
        #expect(estimator.backoffCount == 0)
    }

    @Test func firstSampleSetsSRTTAndHalfAsVariance() {
        // RFC 6298 §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4*RTTVAR).
        var estimator = RTTEstimator(minimum: .zero, granularity: Self.ms(1))
        estimator.addSample(Self.ms(100))
        #expect(estimator.smoothedRTT == Self.ms(100))
        #expect(estimator.rttVariance == Self.ms(50))
        #expect(estimator.rto == Self.ms(300))   // 100 + 4*50
    }

    @Test func laterSamplesFollowTheSmoothingFormulas() {
        // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4, by hand:
        // R2 = 200 ms: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5;
        //              RTO = 112.5 + 4*62.5 = 362.5
        // R3 = 80 ms:  RTTVAR = 3/4*62.5 + 1/4*|112.5-80| = 46.875 + 8.125 = 55;
        //              SRTT = 7/8*112.5 + 1/8*80 = 98.4375 + 10 = 108.4375; RTO = 108.4375 + 220 = 328.4375
        var estimator = RTTEstimator(minimum: .zero)
        estimator.addSample(Self.ms(100))
        estimator.addSample(Self.ms(200))
        #expect(estimator.rttVariance == TimeSpan(nanoseconds: 62_500_000))
        #expect(estimator.smoothedRTT == TimeSpan(nanoseconds: 112_500_000))
        #expect(estimator.rto == TimeSpan(nanoseconds: 362_500_000))
        estimator.addSample(Self.ms(80))
        #expect(estimator.rttVariance == TimeSpan(nanoseconds: 55_000_000))
        #expect(estimator.smoothedRTT == TimeSpan(nanoseconds: 108_437_500))
        #expect(estimator.rto == TimeSpan(nanoseconds: 328_437_500))
    }

    @Test func granularityBoundsTheVarianceTerm() {
        // A steady path drives RTTVAR towards 0; the RTO keeps one tick G above SRTT.
        var estimator = RTTEstimator(minimum: .zero, granularity: Self.ms(10))
        for _ in 0..<200 { estimator.addSample(Self.ms(5)) }
        #expect(estimator.smoothedRTT == Self.ms(5))
        #expect(estimator.rttVariance! < Self.ms(1))
        #expect(estimator.rto == Self.ms(15))
    }

    @Test func defaultMinimumIsLinuxsTwoHundredMilliseconds() {
        var estimator = RTTEstimator()
        estimator.addSample(.microseconds(100))   // 0.1 + 4*0.05 = 0.3 ms before clamping
        #expect(estimator.rto == Self.ms(200))
    }

    @Test func rfcMinimumOfOneSecondCanBeConfigured() {
        var estimator = RTTEstimator(minimum: .seconds(1))
        estimator.addSample(Self.ms(100))
        #expect(estimator.rto == .seconds(1))
    }

    @Test func maximumCapsTheRTO() {
        var estimator = RTTEstimator()
        estimator.addSample(.seconds(40))   // 40 + 4*20 = 120 s
        #expect(estimator.rto == .seconds(60))
    }

    @Test func absurdSampleDoesNotOverflow() {
        var estimator = RTTEstimator()
        estimator.addSample(TimeSpan(nanoseconds: .max))
        estimator.addSample(TimeSpan(nanoseconds: .max))
        #expect(estimator.smoothedRTT == .seconds(60))
        #expect(estimator.rto == .seconds(60))
    }

    @Test func backoffDoublesUpToTheMaximum() {
        var estimator = RTTEstimator()
        estimator.addSample(Self.ms(100))   // RTO 300 ms
        var expected: [TimeSpan] = []
        var seen: [TimeSpan] = []
        var value: UInt64 = 300
        for _ in 0..<12 {
            value = min(value * 2, 60_000)
            expected.append(Self.ms(value))
            estimator.backOff()
            seen.append(estimator.rto)
        }
        #expect(seen == expected)
        #expect(seen[0] == Self.ms(600))
        #expect(seen[6] == Self.ms(38_400))
        #expect(seen[7] == .seconds(60))   // 76.8 s capped
        #expect(estimator.backoffCount == 12)
    }

    @Test func backoffFromTheInitialRTO() {
        var estimator = RTTEstimator()
        estimator.backOff()
        estimator.backOff()
        #expect(estimator.rto == .seconds(4))
        #expect(estimator.backoffCount == 2)
    }

    @Test func validSampleAfterBackoffRecomputesTheRTO() {
        var estimator = RTTEstimator(minimum: .zero)
        estimator.addSample(Self.ms(100))
        estimator.backOff()
        estimator.backOff()
        #expect(estimator.rto == Self.ms(1200))
        // Karn: the caller only feeds a sample from a segment sent once (or timestamped).
        estimator.addSample(Self.ms(100))
        #expect(estimator.backoffCount == 0)
        // RTTVAR = 3/4*50 + 0 = 37.5, SRTT = 100: RTO = 250 ms.
        #expect(estimator.rto == Self.ms(250))
    }

    @Test func handshakeAfterSYNTimeoutStartsDataWithThreeSeconds() {
        var estimator = RTTEstimator()
        estimator.backOff()                 // the SYN timed out: 2 s
        estimator.handshakeCompletedAfterSYNTimeout()
        #expect(estimator.rto == .seconds(3))
        #expect(estimator.backoffCount == 0)
        estimator.addSample(Self.ms(100))
        #expect(estimator.rto == Self.ms(300))
    }

    // A handshake timed from another connection's estimate with the same peer (RFC 9040 §5).

    @Test func aSeedTimesTheHandshakeOnlyWhenItBringsTheTimeoutForward() {
        var estimator = RTTEstimator(minimum: .zero)
        let seeded = estimator.seedHandshakeTimeout(smoothed: Self.ms(20), variance: Self.ms(5))
        #expect(seeded)
        #expect(estimator.rto == Self.ms(40), "SRTT + 4 RTTVAR (RFC 6298 §2.3)")
        #expect(estimator.smoothedRTT == nil && estimator.startedFromSeed, "only the RTO is taken")
        var slow = RTTEstimator(minimum: .zero)
        let slowSeeded = slow.seedHandshakeTimeout(smoothed: Self.ms(400), variance: Self.ms(200))
        #expect(!slowSeeded)
        #expect(slow.rto == .seconds(1) && !slow.startedFromSeed, "1.2 s is no earlier than the default")
        var floored = RTTEstimator()
        let flooredSeeded = floored.seedHandshakeTimeout(smoothed: Self.ms(20), variance: Self.ms(5))
        #expect(flooredSeeded)
        #expect(floored.rto == Self.ms(200), "the lower bound holds for a seed too")
    }

    @Test func theFirstSampleIsTheConnectionsOwn() {
        // RFC 6298 §2.2 for the connection's first measurement: SRTT = R, RTTVAR = R/2.
        var estimator = RTTEstimator(minimum: .zero)
        let seeded = estimator.seedHandshakeTimeout(smoothed: Self.ms(300), variance: Self.ms(10))
        #expect(seeded)
        estimator.addSample(Self.ms(100))
        #expect(estimator.smoothedRTT == Self.ms(100) && estimator.rttVariance == Self.ms(50))
        #expect(estimator.rto == Self.ms(300))
        let reseeded = estimator.seedHandshakeTimeout(smoothed: Self.ms(1), variance: Self.ms(1))
        #expect(!reseeded, "a connection with a sample of its own keeps it")
    }

    @Test func aSeededHandshakeTimesOutEarlyOnceThenFollowsTheDefaultSchedule() {
        var estimator = RTTEstimator()
        let seeded = estimator.seedHandshakeTimeout(smoothed: Self.ms(20), variance: Self.ms(5))
        #expect(seeded)
        estimator.handshakeBackOff()
        #expect(estimator.rto == .seconds(1), "the seed had its try: 1 s as without one")
        estimator.handshakeBackOff()
        #expect(estimator.rto == .seconds(2))
        var unseeded = RTTEstimator()
        unseeded.handshakeBackOff()
        #expect(unseeded.rto == .seconds(2), "without a seed it is RFC 6298 §5.5's doubling")
    }

    @Test func aHandshakeWithoutASampleLeavesTheSeededRTOBehind() {
        var estimator = RTTEstimator()
        let seeded = estimator.seedHandshakeTimeout(smoothed: Self.ms(20), variance: Self.ms(5))
        #expect(seeded)
        estimator.handshakeCompletedWithoutSample()
        #expect(estimator.rto == .seconds(1))
        var unseeded = RTTEstimator()
        unseeded.handshakeBackOff()
        unseeded.handshakeCompletedWithoutSample()
        #expect(unseeded.rto == .seconds(2), "only a seed's RTO is undone")
    }
}
