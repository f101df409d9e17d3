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
        #expect(!connection.send.chunk.isAttached && !connection.receive.chunk.isAttached)
        pool.release(second.index)
    }

    /// `release` copies the pristine block around the loss state's inline
    /// arrays only. Every other byte must come back: the block is filled with
    /// garbage (as if every field had been used), then every field outside those
    /// arrays is compared with a fresh block's, and the arrays' counts too.
    @Test func aResetRestoresEveryFieldOutsideTheSkippedArrays() throws {
        var pool = ConnectionPool(capacity: 1)
        let taken = pool.allocate()
        let (first, block) = try #require(taken)
        UnsafeMutableRawPointer(block).initializeMemory(as: UInt8.self, repeating: 0xA5,
                                                        count: MemoryLayout<TCPConnection>.size)
        block.pointee.inUse = true
        pool.release(first.index)
        let retaken = pool.allocate()
        let (_, reused) = try #require(retaken)

        var fresh = TCPConnection()
        fresh.inUse = true
        fresh.slot = reused.pointee.slot
        fresh.generation = reused.pointee.generation
        let skipped: Set = ["lossDetection.resentHoles.records", "receive.ranges", "scoreboard.starts", "scoreboard.ends"]
        let expected = Self.leaves(of: fresh, skipping: skipped)
        let actual = Self.leaves(of: reused.pointee, skipping: skipped)
        #expect(expected.count > 100, "the walk must reach the block's fields")
        for (path, value) in expected where actual[path] != value {
            Issue.record("\(path) is \(actual[path] ?? "missing") after a reset, \(value) when fresh")
        }
        #expect(reused.pointee.lossDetection.resentHoles.isEmpty && !reused.pointee.receive.hasOutOfOrderData
                && reused.pointee.scoreboard.isEmpty)
    }

    @Test func theCopiedRunsAreEverythingButTheHoles() {
        let runs = ConnectionPool.runs(around: [10..<20, 30..<40, 40..<50], in: 60)
        #expect(Array(runs.indices.map { runs[$0] }) == [0..<10, 20..<30, 40..<40, 50..<60])

        let holes = TCPConnection.inlineArrayBytes
        let size = MemoryLayout<TCPConnection>.size
        let blockRuns = ConnectionPool.runs(around: holes, in: size)
        let copied = blockRuns.indices.reduce(0) { $0 + blockRuns[$1].count }
        let skipped = holes.indices.reduce(0) { $0 + holes[$1].count }
        #expect(copied + skipped == size)
        #expect(skipped > size / 2, "the arrays are most of the block, or skipping them is not worth it")
    }

    /// Each leaf of `value`'s reflection by its dotted path, as text.
    private static func leaves(of value: Any, at path: String = "", skipping: Set<String>) -> [String: String] {
        let children = Mirror(reflecting: value).children
        guard !children.isEmpty else { return [path: String(describing: value)] }
        var result: [String: String] = [:]
        for (position, child) in children.enumerated() {
            let name = child.label ?? String(position)
            let childPath = path.isEmpty ? name : path + "." + name
            guard !skipping.contains(childPath) else { continue }
            result.merge(leaves(of: child.value, at: childPath, skipping: skipping)) { first, _ in first }
        }
        return result
    }
}
