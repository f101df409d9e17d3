import Testing
@testable import MTCP

/// A released slot is copied over from a pristine block (`ConnectionPool.release`):
/// whatever the last connection left in it must be gone, and its old handle stale.
@Suite struct ConnectionPoolTests {
    @Test func aReleasedSlotComesBackAsANewOne() throws {
        var pool = ConnectionPool(capacity: 2)
        let taken = pool.allocate()
        let (first, block) = try #require(taken)
        // What a connection's life leaves behind.
        block.pointee.state = .established
        block.pointee.sendNext = SequenceNumber(123_456)
        block.pointee.receiveNext = SequenceNumber(654_321)
        block.pointee.inDataList = true
        block.pointee.ownedByApplication = true
        block.pointee.pendingEvents = [.readable]
        block.pointee.requests = [.control, .events]
        block.pointee.deadlines[.retransmission] = .zero + .seconds(3)
        block.pointee.controlToSend = [.fin, .ack]
        block.pointee.scoreboard.record([SACKBlock(left: 100, right: 200)], unacknowledged: SequenceNumber(50),
                                        maximum: SequenceNumber(300))
        #expect(!block.pointee.scoreboard.isEmpty, "the test must dirty the scoreboard")
        pool.release(first.index)
        let stale = pool.block(first)
        #expect(stale == nil, "the old handle is stale")

        let retaken = pool.allocate()
        let (second, reused) = try #require(retaken)
        #expect(second.index == first.index && second.generation == first.generation &+ 1)
        let fresh = TCPConnection()
        let connection = reused.pointee
        #expect(connection.slot == first.index && connection.inUse && connection.generation == second.generation)
        #expect(connection.state == .closed && connection.sendNext == fresh.sendNext
                && connection.receiveNext == fresh.receiveNext)
        #expect(!connection.inDataList && !connection.ownedByApplication && connection.listener == -1)
        #expect(connection.pendingEvents.isEmpty && connection.requests.isEmpty && connection.controlToSend.isEmpty)
        #expect(TCPTimer.allCases.allSatisfy { connection.deadlines[$0] == nil })
        #expect(connection.scoreboard.isEmpty && connection.congestion.cwnd == fresh.congestion.cwnd)
        #expect(connection.send.storage.baseAddress == nil && connection.receive.storage.baseAddress == nil)
        pool.release(second.index)
    }
}
