import Testing
@testable import MTCPRuntime

/// The cycle clock's arithmetic against a simulated counter and monotonic clock.
@Suite struct CycleTimelineTests {
    /// A counter really at 2.004 GHz, estimated (as DPDK rounds) at 2.000 GHz:
    /// 0.2% fast, 7.2 s an hour without anchoring. The engine reads the clock
    /// every millisecond of true time and re-anchors when due.
    @Test func anchoringKeepsAWrongRateInStepWithTheMonotonicClock() {
        let trueHertz: UInt64 = 2_004_000_000
        var timeline = CycleTimeline(hertz: 2_000_000_000, cycles: 0, nanoseconds: 0)
        var worst: UInt64 = 0
        for millisecond in stride(from: UInt64(1), through: 3_600_000, by: 1) {
            let trueNanoseconds = millisecond * 1_000_000
            let cycles = millisecond * (trueHertz / 1000)
            if timeline.isAnchorDue(at: cycles) { timeline.anchor(cycles: cycles, nanoseconds: trueNanoseconds) }
            let error = timeline.time(at: cycles).distance(to: trueNanoseconds).magnitude
            worst = max(worst, UInt64(error))
        }
        #expect(worst < 3_000_000, "an hour in, the worst error is \(worst) ns (bounded by one interval's drift)")
    }

    /// A counter that reads below the anchor (unsynchronised counters across a
    /// migration) must neither wrap two centuries ahead nor step back.
    @Test func aCounterGoingBackwardsNeverMovesTimeBackOrFarAhead() {
        var timeline = CycleTimeline(hertz: 1_000_000_000, cycles: 5_000_000_000, nanoseconds: 100_000_000_000)
        let before = timeline.time(at: 5_500_000_000)
        #expect(before == 100_500_000_000)
        let backwards: UInt64 = 4_000_000_000
        #expect(timeline.isAnchorDue(at: backwards))
        #expect(timeline.time(at: backwards) == before, "stands still, no wrap")
        timeline.anchor(cycles: backwards, nanoseconds: 100_600_000_000)
        #expect(timeline.time(at: backwards) == 100_600_000_000)
        #expect(timeline.time(at: backwards + 100_000_000) == 100_700_000_000, "counts on from the new anchor")
    }

    /// A re-anchor behind the time already returned (the rate was high) holds
    /// the clock until the monotonic clock catches up: no step back.
    @Test func anAnchorBehindTheReturnedTimeNeverStepsBack() {
        var timeline = CycleTimeline(hertz: 1_000_000_000, cycles: 0, nanoseconds: 0)
        let ahead = timeline.time(at: 1_000_000_000)
        timeline.anchor(cycles: 1_000_000_000, nanoseconds: 999_000_000)
        #expect(timeline.time(at: 1_000_000_000) == ahead)
        #expect(timeline.time(at: 1_000_000_001) >= ahead)
    }
}
