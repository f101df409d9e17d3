import Testing
@testable import MTCP
import MTCPRuntime

/// The idle policy must never sleep while work is recent (frames received or
/// output waiting within the spin window), must sleep once the engine has been
/// idle for longer, and must never sleep when busy polling. Time is explicit.
@Suite struct IdleBackoffTests {
    private static func at(microseconds: UInt64) -> Instant { Instant(nanoseconds: microseconds * 1_000) }

    @Test func keepsPollingWithinTheSpinWindowAfterFramesArrived() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        #expect(backoff.next(now: Self.at(microseconds: 0), received: 3, outputPending: false) == .poll)
        let empty = [1, 50, 99].map { backoff.next(now: Self.at(microseconds: $0), received: 0, outputPending: false) }
        #expect(empty == [.yield, .yield, .yield], "a reply is likely in flight: no sleep")
        #expect(backoff.next(now: Self.at(microseconds: 100), received: 0, outputPending: false)
            == .sleep(microseconds: 10))
    }

    @Test func sleepsDoubleUpToTheMaximumAndTrafficResetsThem() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        _ = backoff.next(now: Self.at(microseconds: 0), received: 1, outputPending: false)
        let sleeps = (0..<5).map { backoff.next(now: Self.at(microseconds: 200 + $0), received: 0, outputPending: false) }
        #expect(sleeps == [.sleep(microseconds: 10), .sleep(microseconds: 20), .sleep(microseconds: 40),
                           .sleep(microseconds: 40), .sleep(microseconds: 40)])
        #expect(backoff.next(now: Self.at(microseconds: 300), received: 1, outputPending: false) == .poll)
        #expect(backoff.next(now: Self.at(microseconds: 350), received: 0, outputPending: false) == .yield)
        #expect(backoff.next(now: Self.at(microseconds: 400), received: 0, outputPending: false)
            == .sleep(microseconds: 10), "the first sleep after new traffic is short again")
    }

    @Test func pendingOutputCountsAsWork() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        let actions = (0..<10).map { backoff.next(now: Self.at(microseconds: $0 * 1000), received: 0, outputPending: true) }
        #expect(actions.allSatisfy { $0 == .poll })
        #expect(backoff.next(now: Self.at(microseconds: 9050), received: 0, outputPending: false) == .yield)
    }

    @Test func anEngineThatNeverSawTrafficSleeps() {
        var backoff = IdleBackoff(spinWindow: .microseconds(100), minimumSleepMicroseconds: 10,
                                  maximumSleepMicroseconds: 40)
        #expect(backoff.next(now: Self.at(microseconds: 5), received: 0, outputPending: false)
            == .sleep(microseconds: 10))
    }

    @Test func busyPollingNeverSleepsButYieldsWhenIdle() {
        var backoff = IdleBackoff.busyPoll
        _ = backoff.next(now: Self.at(microseconds: 0), received: 1, outputPending: false)
        let actions = [1, 1_000, 1_000_000].map {
            backoff.next(now: Self.at(microseconds: $0), received: 0, outputPending: false)
        }
        #expect(actions == [.yield, .yield, .yield])
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
