import Testing
@testable import MTCP
import MTCPRuntime

/// The idle back-off must only sleep when there is nothing to do: frames the
/// engine could not send yet are work, as received frames are.
@Suite struct IdleBackoffTests {
    @Test func sleepsOnlyAfterTheSpinLimitOfIdlePolls() {
        var backoff = IdleBackoff(spinLimit: 3, maximumSleepMicroseconds: 1)
        let slept = (0..<5).map { _ in backoff.record(received: 0, outputPending: false) }
        #expect(slept == [false, false, false, true, true])
        let afterTraffic = backoff.record(received: 1, outputPending: false)
        #expect(!afterTraffic, "traffic resets it")
    }

    @Test func pendingOutputKeepsTheLoopSpinning() {
        var backoff = IdleBackoff(spinLimit: 3, maximumSleepMicroseconds: 1)
        let slept = (0..<10).map { _ in backoff.record(received: 0, outputPending: true) }
        #expect(!slept.contains(true))
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
