import Testing
@testable import MTCP
import MTCPRuntime

/// The idle policy must never sleep while work is recent (frames received or
/// sent, or output waiting, within the spin window, counted from the end of the
/// iteration), must sleep once the engine has been idle for longer but never
/// past the next timer, and must never sleep when busy polling. Time is explicit.
@Suite struct IdleBackoffTests {
    private static func at(microseconds: UInt64) -> Instant { Instant(nanoseconds: microseconds * 1_000) }

    /// One iteration of the loop starting at `microseconds`: `next` is called with
    /// the iteration's start, as the core loop does.
    private static func iteration(_ backoff: inout IdleBackoff, at microseconds: UInt64, received: Int = 0,
                                  sent: Int = 0, outputPending: Bool = false,
                                  nextTimer: Instant? = nil) -> IdleBackoff.Action {
        backoff.next(now: at(microseconds: microseconds), received: received, sent: sent,
                     outputPending: outputPending, nextTimer: nextTimer)
    }

    private static func policy(spinWindow: UInt64 = 100, yieldAfter: UInt64 = 20, minimumSleep: UInt32 = 10,
                               maximumSleep: UInt32 = 40) -> IdleBackoff {
        IdleBackoff(spinWindow: .microseconds(spinWindow), yieldAfter: .microseconds(yieldAfter),
                    minimumSleepMicroseconds: minimumSleep, maximumSleepMicroseconds: maximumSleep)
    }

    /// Frames arrived in the iteration that started at 0 and ended at 1 (when the
    /// next one started): polling goes on through the spin window from 1.
    @Test func keepsPollingWithinTheSpinWindowAfterFramesArrived() {
        var backoff = Self.policy()
        #expect(Self.iteration(&backoff, at: 0, received: 3) == .poll)
        let empty = [1, 10, 50, 100].map { Self.iteration(&backoff, at: $0) }
        #expect(empty == [.poll, .poll, .yield, .yield], "a reply is likely in flight: no sleep; a short gap spins")
        #expect(Self.iteration(&backoff, at: 101) == .sleep(microseconds: 10))
    }

    @Test func sleepsDoubleUpToTheMaximumAndTrafficResetsThem() {
        var backoff = Self.policy()
        _ = Self.iteration(&backoff, at: 0, received: 1)
        _ = Self.iteration(&backoff, at: 1)
        let sleeps = (0..<5).map { Self.iteration(&backoff, at: 200 + $0) }
        #expect(sleeps == [.sleep(microseconds: 10), .sleep(microseconds: 20), .sleep(microseconds: 40),
                           .sleep(microseconds: 40), .sleep(microseconds: 40)])
        #expect(Self.iteration(&backoff, at: 300, received: 1) == .poll)
        #expect(Self.iteration(&backoff, at: 301) == .poll)
        #expect(Self.iteration(&backoff, at: 350) == .yield)
        #expect(Self.iteration(&backoff, at: 402) == .sleep(microseconds: 10),
                "the first sleep after new traffic is short again")
    }

    @Test func pendingOutputCountsAsWork() {
        var backoff = Self.policy()
        let actions = (0..<10).map { Self.iteration(&backoff, at: $0 * 1000, outputPending: true) }
        #expect(actions.allSatisfy { $0 == .poll })
        #expect(Self.iteration(&backoff, at: 9001) == .poll)
        #expect(Self.iteration(&backoff, at: 9050) == .yield)
    }

    @Test func anEngineThatNeverSawTrafficSleeps() {
        var backoff = Self.policy()
        #expect(Self.iteration(&backoff, at: 5) == .sleep(microseconds: 10))
    }

    @Test func busyPollingNeverSleepsButYieldsWhenIdle() {
        var backoff = IdleBackoff.busyPoll
        _ = Self.iteration(&backoff, at: 0, received: 1)
        let actions = [1, 2, 1_000, 1_000_000].map { Self.iteration(&backoff, at: $0) }
        #expect(actions == [.poll, .poll, .yield, .yield])
    }

    /// Between the bursts of a loaded engine, empty polls spin without a system
    /// call; only a gap longer than `yieldAfter` yields the core.
    @Test func aShortGapSpinsAndALongerOneYields() {
        var backoff = Self.policy(spinWindow: 500, maximumSleep: 0)
        _ = Self.iteration(&backoff, at: 100, received: 8, sent: 8)
        let actions = [101, 110, 120, 121, 200].map { Self.iteration(&backoff, at: $0) }
        #expect(actions == [.poll, .poll, .poll, .yield, .yield])
    }

    @Test func framesSentCountAsWork() {
        var backoff = Self.policy()
        #expect(Self.iteration(&backoff, at: 1000, sent: 2) == .poll, "a retransmission or a request just went out")
        _ = Self.iteration(&backoff, at: 1001)
        #expect(Self.iteration(&backoff, at: 1050) == .yield, "its answer is likely in flight: no sleep")
    }

    /// The iteration with work started at 100 and ended at 600 (it was slow),
    /// when the next one started: the spin window runs from 600, not from 100.
    @Test func theSpinWindowStartsWhenTheBusyIterationFinished() {
        var backoff = Self.policy(spinWindow: 500, minimumSleep: 50, maximumSleep: 1000)
        _ = Self.iteration(&backoff, at: 100, received: 4, sent: 4)
        #expect(Self.iteration(&backoff, at: 600) == .poll)
        #expect(Self.iteration(&backoff, at: 1050) == .yield, "450 µs after its end: within the spin window")
        #expect(Self.iteration(&backoff, at: 1100) == .sleep(microseconds: 50))
    }

    @Test func aSleepEndsWhenTheNextTimerCanFire() {
        var backoff = Self.policy(minimumSleep: 1000, maximumSleep: 1000)
        #expect(Self.iteration(&backoff, at: 5000, nextTimer: Self.at(microseconds: 5200)) == .sleep(microseconds: 200),
                "a timer due in 200 µs must not wait for a 1 ms sleep")
        #expect(Self.iteration(&backoff, at: 5000, nextTimer: Self.at(microseconds: 9000)) == .sleep(microseconds: 1000))
        #expect(Self.iteration(&backoff, at: 5000, nextTimer: Self.at(microseconds: 5000)) == .yield,
                "a timer already due: no sleep")
    }

    /// With receive interrupts, an idle engine past the spin window waits for
    /// the longest wait, or until its next timer, and the first frame resets it.
    @Test func interruptDrivenWaitsLongButNotPastATimer() {
        var backoff = IdleBackoff.interruptDriven
        #expect(IdleBackoff.longestWaitMicroseconds == 100_000)
        _ = Self.iteration(&backoff, at: 0, received: 1)
        #expect(Self.iteration(&backoff, at: 1) == .poll)
        #expect(Self.iteration(&backoff, at: 600) == .sleep(microseconds: 100_000))
        #expect(Self.iteration(&backoff, at: 100_600, nextTimer: Self.at(microseconds: 140_600))
                == .sleep(microseconds: 40_000), "a delayed ACK due in 40 ms ends the wait")
        #expect(Self.iteration(&backoff, at: 140_600, received: 2) == .poll)
    }

    /// Data in flight arms the retransmission timer: the engine then reports the
    /// wheel's next tick boundary (1 ms ticks from 0), and nothing when no timer is armed.
    @Test func theEngineBoundsItsNextTimer() throws {
        var net = SocketTestNetwork()
        let noTimer = net.server.engine.nextTimerBoundary(after: net.link.now)
        #expect(noTimer == nil)
        let (_, server, _) = try net.establish()
        #expect(try net.server.send(server, [UInt8](repeating: 7, count: 100)) == 100)
        net.step()
        let now = net.link.now + .microseconds(200)
        #expect(net.server.engine.nextTimerBoundary(after: now) == net.link.now + .milliseconds(1))
    }

    /// 32 KB to write and 8 packet buffers: the engine has output pending after
    /// an iteration (data that found no buffer) until all of it went.
    @Test func theEngineReportsOutputItCouldNotSendYet() throws {
        let tcp = SocketTestNetwork.tcp(sendBufferSize: 65536, receiveBufferSize: 65536)
        var net = SocketTestNetwork(server: tcp, client: tcp, serverBuffers: 8)
        let (_, server, client) = try net.establish()
        let idle = net.server.hasPendingOutput
        #expect(!idle)
        #expect(try net.server.send(server, [UInt8](repeating: 7, count: 32768)) == 32768)
        net.step()
        let waiting = net.server.hasPendingOutput
        #expect(waiting, "8 frames went, the rest waits")
        var steps = 0
        while net.server.hasPendingOutput && steps < 100 {
            net.step()
            steps += 1
        }
        let drained = net.server.hasPendingOutput
        #expect(!drained)
        net.settle()
        #expect(try net.client.receive(client).count == 32768)
    }
}
