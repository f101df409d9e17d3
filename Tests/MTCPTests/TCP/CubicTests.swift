import Glibc
import Testing
@testable import MTCP

/// CUBIC (RFC 9438) through the `CongestionControl` seam, with an ACK clock
/// simulated at explicit instants: every round trip the whole window is sent
/// and acknowledged one segment per ACK, the ACKs evenly spaced over the RTT.
@Suite struct CubicTests {
    static let mss = 1460
    static let t0 = Instant(nanoseconds: 5_000_000_000)

    struct Simulation {
        var cc: CongestionControl
        var now: Instant
        let rtt: TimeSpan
        /// cwnd in segments at the end of each round, with the time since the epoch began.
        var trace: [(t: Double, w: Double)] = []
        var epochStart: Instant?
        /// The lowest cwnd - W_est seen (segments): CUBIC must never fall below Reno.
        var lowestMarginOverReno = Double.infinity

        var cubic: Cubic {
            guard case .cubic(let state) = cc.state else { fatalError("not CUBIC") }
            return state
        }

        var segments: Double { Double(cc.cwnd) / Double(CubicTests.mss) }

        mutating func round() {
            let acks = max(cc.cwnd / CubicTests.mss, 1)
            let spacing = rtt.nanoseconds / UInt64(acks)
            for _ in 0..<acks {
                now = now + TimeSpan(nanoseconds: spacing)
                cc.onAck(ackedBytes: CubicTests.mss, now: now, rtt: rtt, inFlightBeforeAck: cc.cwnd)
                if epochStart == nil { epochStart = cubic.epochStart }
                lowestMarginOverReno = min(lowestMarginOverReno, segments - cubic.wEst)
            }
            let t = epochStart.map { Double(now.since($0).nanoseconds) / 1e9 } ?? 0   // 0 in slow start
            trace.append((t, segments))
        }

        /// cwnd (segments) at the end of the round closest to `t` seconds into the epoch.
        func window(near t: Double) -> Double {
            trace.min { abs($0.t - t) < abs($1.t - t) }!.w
        }
    }

    /// Slow start from IW10 to exactly `wMax` segments, then a fast recovery whose
    /// exit leaves cwnd = ssthresh (enough still in flight).
    static func afterLoss(at wMax: Int, rtt: TimeSpan) -> Simulation {
        var cc = CongestionControl(algorithm: .cubic, mss: mss)
        for _ in 0..<(wMax - 10) {
            cc.onAck(ackedBytes: mss, now: t0, rtt: rtt, inFlightBeforeAck: cc.cwnd)
        }
        #expect(cc.cwnd == wMax * mss)
        cc.onDuplicateAcksEnterRecovery(flightSize: cc.cwnd, now: t0)
        cc.onRecoveryExit(flightSize: cc.ssthresh)
        return Simulation(cc: cc, now: t0, rtt: rtt)
    }

    @Test func constantsAreRFC9438s() {
        #expect(Cubic.c == 0.4)
        #expect(Cubic.beta == 0.7)
        #expect(abs(Cubic.alphaReno - 0.9 / 1.7) < 1e-12)
    }

    @Test func windowFunctionPassesThroughTheEpochStartAndWMax() {
        // W_max = 100, cwnd_epoch = 70 segments: K = cbrt(100 * 0.3 / 0.4) = cbrt(75) s.
        let k = Cubic.k(wMax: 100, cwndEpoch: 70)
        #expect(abs(k - 4.217163326508746) < 1e-9)
        #expect(abs(Cubic.window(at: 0, k: k, wMax: 100) - 70) < 1e-9)
        #expect(abs(Cubic.window(at: k, k: k, wMax: 100) - 100) < 1e-12)
        #expect(Cubic.k(wMax: 100, cwndEpoch: 120) == 0)
    }

    @Test func lossLeavesSeventyPercentOfWMax() {
        let sim = Self.afterLoss(at: 100, rtt: .milliseconds(200))
        #expect(sim.cc.ssthresh == 102_200)          // 0.7 * 146000, exact in bytes
        #expect(sim.cc.cwnd == 102_200)
        #expect(!sim.cc.inRecovery)
        #expect(sim.cubic.wMax == 100)
        #expect(sim.cubic.cwndPrior == 100)
    }

    @Test func fastRecoveryInflatesFromTheCubicThreshold() {
        var cc = CongestionControl(algorithm: .cubic, mss: Self.mss)
        cc.onDuplicateAcksEnterRecovery(flightSize: cc.cwnd, now: Self.t0)
        #expect(cc.ssthresh == 10_220)               // 0.7 * 14600
        #expect(cc.cwnd == 10_220 + 3 * Self.mss)
    }

    @Test func concaveBackToWMaxAtKThenConvex() {
        // RTT 200 ms keeps the flow in the cubic region: Reno's estimate needs
        // 30 / 0.53 = 57 round trips (11 s) to climb from 70 to 100 segments.
        var sim = Self.afterLoss(at: 100, rtt: .milliseconds(200))
        sim.round()
        let k = sim.cubic.k
        #expect(abs(k - cbrt(100 * (1 - 0.7) / 0.4)) < 1e-9)   // K in segments and seconds
        while sim.trace.last!.t < k + 3.2 { sim.round() }

        // Concave: fast at first, flattening towards W_max, and not above it
        // before K (aiming one RTT ahead lets it arrive one RTT early).
        for point in sim.trace where point.t < k - 0.2 {
            #expect(point.w <= 100.0 + 1e-9)
        }
        let early = sim.window(near: 1.0) - sim.window(near: 0.2)
        let late = sim.window(near: k - 0.2) - sim.window(near: k - 1.0)
        #expect(early > 5 * late)
        #expect(early > 10)                              // W_cubic(1.0) - W_cubic(0.2) = 12.6

        // Back at W_max around t = K.
        #expect(abs(sim.window(near: k) - 100) < 0.5)

        // Convex beyond K: growth speeds up again.
        let justAfter = sim.window(near: k + 1.0) - sim.window(near: k + 0.2)
        let later = sim.window(near: k + 3.0) - sim.window(near: k + 2.2)
        #expect(later > 3 * justAfter)
        let expected = Cubic.window(at: k + 3.0, k: k, wMax: 100)     // 110.8 segments
        #expect(abs(sim.window(near: k + 3.0) - expected) < 0.01 * expected)

        // The cubic curve dominated; cwnd never fell below the Reno estimate.
        #expect(sim.lowestMarginOverReno > -1e-6)
    }

    @Test func renoFriendlyRegionFollowsTheRenoEstimate() {
        // RTT 1 ms: Reno gains alpha = 0.53 segments per round trip, far faster
        // than the cubic curve near its plateau, so CUBIC must track W_est.
        var sim = Self.afterLoss(at: 100, rtt: .milliseconds(1))
        for _ in 0..<40 { sim.round() }
        let t = sim.trace.last!.t
        #expect(Cubic.window(at: t, k: sim.cubic.k, wMax: 100) < 71)    // the curve barely moved
        #expect(abs(sim.segments - (70 + 40 * Cubic.alphaReno)) < 1.0)  // Reno's pace: ~91.2
        #expect(sim.lowestMarginOverReno > -1e-6)

        // Once W_est passes cwnd_prior (100) alpha becomes 1: one segment per RTT.
        while sim.segments < 101 { sim.round() }
        let before = sim.segments
        for _ in 0..<20 { sim.round() }
        #expect(abs(sim.segments - before - 20) < 1.0)
        #expect(sim.lowestMarginOverReno > -1e-6)
    }

    @Test func fastConvergenceLowersWMaxWhenLossComesEarly() {
        var sim = Self.afterLoss(at: 100, rtt: .milliseconds(200))
        for _ in 0..<5 { sim.round() }
        let w = sim.segments
        #expect(w < 100)
        sim.cc.onDuplicateAcksEnterRecovery(flightSize: sim.cc.cwnd, now: sim.now)
        #expect(abs(sim.cubic.wMax - w * 1.7 / 2) < 1e-9)
        #expect(sim.cubic.epochStart == nil)
    }

    @Test func timeoutRestartsWithAConvexEpoch() {
        var sim = Self.afterLoss(at: 100, rtt: .milliseconds(200))
        sim.cc.onRetransmissionTimeout(flightSize: sim.cc.cwnd, now: sim.now)
        #expect(sim.cc.cwnd == Self.mss)
        #expect(sim.cc.ssthresh == 102_200 * 7 / 10)   // beta_cubic again (RFC 9438 §4.8)
        // Slow start back to ssthresh, then the first epoch has K = 0, W_max = cwnd_epoch.
        while sim.cc.inSlowStart { sim.round() }
        sim.trace.removeAll()
        sim.epochStart = nil
        sim.round()
        #expect(sim.cubic.k == 0)
        #expect(sim.cubic.wMax >= Double(sim.cc.ssthresh) / Double(Self.mss))
        #expect(sim.cubic.wMax <= sim.segments)
    }

    @Test func applicationLimitedPeriodDoesNotTurnIntoABurst() {
        var sim = Self.afterLoss(at: 100, rtt: .milliseconds(200))
        sim.round()
        let w = sim.cc.cwnd
        // Ten seconds of ACKs while the application had little to send.
        for _ in 0..<100 {
            sim.now = sim.now + .milliseconds(100)
            sim.cc.onAck(ackedBytes: Self.mss, now: sim.now, rtt: sim.rtt, inFlightBeforeAck: w / 2)
        }
        #expect(sim.cc.cwnd == w)
        // The next cwnd-limited ACK starts a fresh epoch on the same curve, instead
        // of the one ten seconds old (which would allow a 1.5x jump).
        sim.cc.onAck(ackedBytes: Self.mss, now: sim.now, rtt: sim.rtt, inFlightBeforeAck: w)
        #expect(sim.cubic.epochStart == sim.now)
        #expect(sim.cc.cwnd < w + Self.mss)
    }
}
