import Testing
import MTCP
@testable import MTCPRuntime

/// One core's graceful stop: drain, stop accepting, grace, closing time.
@Suite struct StopSequenceTests {
    static func at(_ milliseconds: UInt64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }

    /// What `next` asks for at each of `steps` (milliseconds, whether the drain is skipped).
    static func actions(_ stop: inout StopSequence, _ steps: [(UInt64, Bool)]) -> [StopSequence.Action] {
        steps.map { stop.next(now: at($0.0), skipDrain: $0.1) }
    }

    /// Whether the loop ends at each of `times` (milliseconds), with the application's state given.
    static func over(_ stop: inout StopSequence, at times: [UInt64], finished: Bool,
                     connections: Int) -> [Bool] {
        times.map { stop.isOver(now: at($0), applicationFinished: finished, openConnections: connections) }
    }

    /// `drain_s = 0`: the listeners close in the first iteration after the signal, as before drains existed.
    @Test func withoutADrainAcceptingStopsAtOnce() {
        var stop = StopSequence(drain: .zero, grace: .seconds(5), closingTime: .seconds(1))
        let actions = Self.actions(&stop, [(100, false), (101, false)])
        #expect(actions == [.stopAccepting, .none])
    }

    /// The drain lasts its time, whatever the application's state: a server with
    /// nothing open still accepts (the loop does not end) until the drain ends.
    @Test func acceptingGoesOnUntilTheDrainEnds() {
        var stop = StopSequence(drain: .seconds(2), grace: .seconds(5), closingTime: .seconds(1))
        let first = Self.actions(&stop, [(100, false), (101, false), (1_000, false), (2_099, false)])
        #expect(first == [.startDraining, .none, .none, .none])
        let draining = Self.over(&stop, at: [101, 1_000, 2_099], finished: true, connections: 0)
        #expect(draining == [false, false, false])
        let end = Self.actions(&stop, [(2_100, false)])
        #expect(end == [.stopAccepting])
        let stopped = Self.over(&stop, at: [2_100], finished: true, connections: 0)
        #expect(stopped == [true])
    }

    /// A second signal during the drain: the listeners close now.
    @Test func aSecondSignalEndsTheDrain() {
        var stop = StopSequence(drain: .seconds(30), grace: .seconds(5), closingTime: .seconds(1))
        let actions = Self.actions(&stop, [(0, false), (500, true)])
        #expect(actions == [.startDraining, .stopAccepting])
    }

    /// A stop after a failure skips the drain altogether.
    @Test func aStopThatSkipsTheDrainNeverStartsIt() {
        var stop = StopSequence(drain: .seconds(30), grace: .seconds(5), closingTime: .seconds(1))
        let actions = Self.actions(&stop, [(0, true)])
        #expect(actions == [.stopAccepting])
    }

    /// The grace period counts from the end of the drain; once the application
    /// is done, closing handshakes get `closingTime`.
    @Test func graceCountsFromTheListenersClosing() {
        var stop = StopSequence(drain: .seconds(2), grace: .seconds(5), closingTime: .seconds(1))
        let actions = Self.actions(&stop, [(0, false), (2_000, false)])
        #expect(actions == [.startDraining, .stopAccepting])
        let grace = Self.over(&stop, at: [6_999, 7_000], finished: false, connections: 3)
        #expect(grace == [false, true])

        var closing = StopSequence(drain: .zero, grace: .seconds(5), closingTime: .seconds(1))
        _ = Self.actions(&closing, [(0, false)])
        let handshakes = Self.over(&closing, at: [100, 1_099, 1_100], finished: true, connections: 1)
        #expect(handshakes == [false, false, true])
    }
}
