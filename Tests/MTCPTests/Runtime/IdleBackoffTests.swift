import Testing
@testable import MTCP
import MTCPRuntime

/// The idle policy must never sleep while work is recent (frames received or
/// sent, or output waiting, within the spin window, counted from the end of the
/// iteration), must sleep once the engine has been idle for longer but never
/// past the next timer, and must never sleep when busy polling. Time is explicit.
@Suite struct IdleBackoffTests {
    private static func at(microseconds: UInt64) -> Instant { Instant(nanoseconds: microseconds * 1_000) }

    @Test func keepsPollingWithinTheSpinWindowAfterFramesArrived() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        #expect(backoff.next(now: Self.at(microseconds: 0), received: 3, sent: 0, outputPending: false, nextTimer: nil) == .poll)
        let empty = [1, 50, 99].map { backoff.next(now: Self.at(microseconds: $0), received: 0, sent: 0, outputPending: false, nextTimer: nil) }
        #expect(empty == [.poll, .yield, .yield], "a reply is likely in flight: no sleep; a short gap spins")
        #expect(backoff.next(now: Self.at(microseconds: 100), received: 0, sent: 0, outputPending: false, nextTimer: nil)
            == .sleep(microseconds: 10))
    }

    @Test func sleepsDoubleUpToTheMaximumAndTrafficResetsThem() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        _ = backoff.next(now: Self.at(microseconds: 0), received: 1, sent: 0, outputPending: false, nextTimer: nil)
        let sleeps = (0..<5).map { backoff.next(now: Self.at(microseconds: 200 + $0), received: 0, sent: 0, outputPending: false, nextTimer: nil) }
        #expect(sleeps == [.sleep(microseconds: 10), .sleep(microseconds: 20), .sleep(microseconds: 40),
                           .sleep(microseconds: 40), .sleep(microseconds: 40)])
        #expect(backoff.next(now: Self.at(microseconds: 300), received: 1, sent: 0, outputPending: false, nextTimer: nil) == .poll)
        #expect(backoff.next(now: Self.at(microseconds: 350), received: 0, sent: 0, outputPending: false, nextTimer: nil) == .yield)
        #expect(backoff.next(now: Self.at(microseconds: 400), received: 0, sent: 0, outputPending: false, nextTimer: nil)
            == .sleep(microseconds: 10), "the first sleep after new traffic is short again")
    }

    @Test func pendingOutputCountsAsWork() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        let actions = (0..<10).map { backoff.next(now: Self.at(microseconds: $0 * 1000), received: 0, sent: 0, outputPending: true, nextTimer: nil) }
        #expect(actions.allSatisfy { $0 == .poll })
        #expect(backoff.next(now: Self.at(microseconds: 9050), received: 0, sent: 0, outputPending: false, nextTimer: nil) == .yield)
    }

    @Test func anEngineThatNeverSawTrafficSleeps() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        #expect(backoff.next(now: Self.at(microseconds: 5), received: 0, sent: 0, outputPending: false, nextTimer: nil)
            == .sleep(microseconds: 10))
    }

    @Test func busyPollingNeverSleepsButYieldsWhenIdle() {
        var backoff = IdleBackoff.busyPoll
        _ = backoff.next(now: Self.at(microseconds: 0), received: 1, sent: 0, outputPending: false, nextTimer: nil)
        let actions = [1, 1_000, 1_000_000].map {
            backoff.next(now: Self.at(microseconds: $0), received: 0, sent: 0, outputPending: false, nextTimer: nil)
        }
        #expect(actions == [.poll, .yield, .yield])
    }

    /// Between the bursts of a loaded engine, empty polls spin without a system
    /// call; only a gap longer than `yieldAfter` yields the core.
    @Test func aShortGapSpinsAndALongerOneYields() {
        var backoff = IdleBackoff(spinWindow: .microseconds(500), yieldAfter: .microseconds(20),
                                  maximumSleepMicroseconds: 0)
        _ = backoff.next(now: Self.at(microseconds: 100), received: 8, sent: 8, outputPending: false, nextTimer: nil)
        let actions = [101, 110, 119, 120, 200].map {
            backoff.next(now: Self.at(microseconds: $0), received: 0, sent: 0, outputPending: false, nextTimer: nil)
        }
        #expect(actions == [.poll, .poll, .poll, .yield, .yield])
    }

    @Test func framesSentCountAsWork() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        #expect(backoff.next(now: Self.at(microseconds: 1000), received: 0, sent: 2, outputPending: false,
                             nextTimer: nil) == .poll, "a retransmission or a request just went out")
        #expect(backoff.next(now: Self.at(microseconds: 1050), received: 0, sent: 0, outputPending: false,
                             nextTimer: nil) == .yield, "its answer is likely in flight: no sleep")
    }

    /// The iteration with work finished at 600 µs (it was slow): the spin window
    /// runs from there, not from its start.
    @Test func theSpinWindowStartsWhenTheBusyIterationFinished() {
        var backoff = IdleBackoff(spinWindow: .microseconds(500), minimumSleepMicroseconds: 50,
                                  maximumSleepMicroseconds: 1000)
        _ = backoff.next(now: Self.at(microseconds: 600), received: 4, sent: 4, outputPending: false, nextTimer: nil)
        #expect(backoff.next(now: Self.at(microseconds: 1050), received: 0, sent: 0, outputPending: false,
                             nextTimer: nil) == .yield, "450 µs after its end: still within the spin window")
    }

    @Test func aSleepEndsWhenTheNextTimerCanFire() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 1000,
                                  maximumSleepMicroseconds: 1000)
        #expect(backoff.next(now: Self.at(microseconds: 5000), received: 0, sent: 0, outputPending: false,
                             nextTimer: Self.at(microseconds: 5200)) == .sleep(microseconds: 200),
                "a timer due in 200 µs must not wait for a 1 ms sleep")
        #expect(backoff.next(now: Self.at(microseconds: 5000), received: 0, sent: 0, outputPending: false,
                             nextTimer: Self.at(microseconds: 9000)) == .sleep(microseconds: 1000))
        #expect(backoff.next(now: Self.at(microseconds: 5000), received: 0, sent: 0, outputPending: false,
                             nextTimer: Self.at(microseconds: 5000)) == .yield, "a timer already due: no sleep")
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
