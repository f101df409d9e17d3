import Testing
@testable import MTCP

/// A full transmit queue holds TCP output back on its lists instead of dropping
/// frames TCP believes sent: a burst of SYNs larger than the queue, or data on
/// a queue the device drains slowly, goes out over the next iterations with
/// nothing dropped, retransmitted or timed out. (Before, the frames past the
/// queue's end were dropped as `transmit_queue_full` after TCP counted them
/// sent, and each cost a retransmission timeout: a second for a SYN.)
@Suite struct TransmitBackPressureTests {
    /// 24 connects in one iteration against a client queue of 4 frames: all
    /// are established within a few milliseconds, without a SYN retransmission.
    @Test func aBurstOfSYNsLargerThanTheQueueWaitsOnTheControlList() throws {
        var network = SocketTestNetwork(transmitQueue: 4)
        let listener = try network.listen()
        let sockets = try (0..<24).map { _ in try network.connect() }
        for _ in 0..<20 { network.step() }
        let established = sockets.filter { network.client.state(of: $0) == .established }.count
        #expect(established == 24)
        let clientDrops = network.client.engine.statistics.drops[.transmitQueueFull]
        let serverDrops = network.server.engine.statistics.drops[.transmitQueueFull]
        #expect(clientDrops == 0 && serverDrops == 0)
        let retransmitted = network.client.engine.tcpStatistics.retransmittedSegments
            + network.server.engine.tcpStatistics.retransmittedSegments
        #expect(retransmitted == 0)
        var accepted = 0
        while (try? network.server.accept(listener)) != nil { accepted += 1 }
        #expect(accepted == 24)
    }

    /// 6 KiB written at once through a server queue of 2 frames: the data leaves
    /// two segments an iteration and arrives whole, nothing retransmitted.
    @Test func dataBeyondTheQueueWaitsOnTheDataList() throws {
        var network = SocketTestNetwork(transmitQueue: 2)
        let (_, server, client) = try network.establish()
        let bytes = (0..<6144).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(try network.server.send(server, bytes) == bytes.count)
        var received: [UInt8] = []
        for _ in 0..<20 where received.count < bytes.count {
            network.step()
            received += network.client.drain(client).bytes
        }
        #expect(received == bytes)
        #expect(network.server.engine.statistics.drops[.transmitQueueFull] == 0)
        #expect(network.server.engine.tcpStatistics.retransmittedSegments == 0)
    }
}
