import Testing
import MTCP
@testable import MTCPRuntime

/// A core's busy share: each iteration's time, from its start to the next
/// one's, goes to busy if it received or sent frames and to idle if not.
@Suite struct CoreLoadTests {
    @Test func anIterationCountsUntilTheNextOneStartsAsWhatItDid() {
        var load = CoreLoad(start: Instant(nanoseconds: 1_000))
        load.iterationStarted(at: Instant(nanoseconds: 1_000))
        load.iterationEnded(worked: true)
        load.iterationStarted(at: Instant(nanoseconds: 1_300))  // the busy one took 300 ns
        load.iterationEnded(worked: false)
        load.iterationStarted(at: Instant(nanoseconds: 2_200))  // an idle one with its back-off: 900 ns
        load.iterationEnded(worked: true)
        #expect(load.busyNanoseconds == 300)
        #expect(load.idleNanoseconds == 900)
        load.iterationStarted(at: Instant(nanoseconds: 2_300))
        #expect(load.busyNanoseconds == 400)
    }

    @Test func theBusyShareIsTakenBetweenTwoSnapshots() {
        var before = CoreSnapshot(core: 0)
        before.busyNanoseconds = 100
        before.idleNanoseconds = 300
        var after = before
        #expect(after.busyPercent(since: before) == nil, "no time counted in between")
        after.busyNanoseconds += 300
        after.idleNanoseconds += 100
        #expect(after.busyPercent(since: before) == 75)
        #expect(after.busyPercentSinceStart == 50)
    }
}
