import Testing
@testable import MTCP
@testable import MTCPHTTPServer

/// A pool's queue: first come first served, any request taken out in O(1) by
/// its ticket, a stale ticket taking nothing, the entries reused.
@Suite struct UpstreamQueueTests {
    static let start = Instant.zero + .seconds(1)

    static func at(_ milliseconds: UInt64) -> Instant { start + .milliseconds(milliseconds) }

    static func drain(_ queue: inout UpstreamQueue) -> [Int32] {
        var slots: [Int32] = []
        while let slot = queue.removeOldest() { slots.append(slot) }
        return slots
    }

    @Test func requestsLeaveInTheOrderTheyCame() {
        var queue = UpstreamQueue(capacity: 4)
        for (slot, since): (Int32, UInt64) in [(7, 0), (3, 1), (9, 2)] {
            let ticket = queue.insert(slot, since: Self.at(since))
            #expect(ticket != nil)
        }
        #expect(queue.oldest?.slot == 7)
        #expect(Self.drain(&queue) == [7, 3, 9])
        #expect(queue.count == 0 && queue.oldest == nil)
    }

    /// Taking a request out of the middle (its client closed) leaves the
    /// others in order; a full queue refuses, and has room again after.
    @Test func anyRequestLeavesByItsTicket() throws {
        var queue = UpstreamQueue(capacity: 3)
        let a = queue.insert(1, since: Self.at(0))
        let b = queue.insert(2, since: Self.at(1))
        let c = queue.insert(3, since: Self.at(2))
        let refused = queue.insert(4, since: Self.at(3))
        #expect(a != nil && b != nil && c != nil)
        #expect(refused == nil, "full")
        let removed = queue.remove(b!)
        let again = queue.remove(b!)
        #expect(removed && !again, "gone already the second time")
        #expect(queue.count == 2)
        let inserted = queue.insert(4, since: Self.at(3))
        let d = try #require(inserted)
        #expect(Self.drain(&queue) == [1, 3, 4])
        let late = [queue.remove(a!), queue.remove(c!), queue.remove(d)]
        #expect(late == [false, false, false], "taken out by removeOldest already")
        #expect(queue.count == 0)
        _ = queue.insert(5, since: Self.at(4))
        #expect(Self.drain(&queue) == [5])
    }

    /// A ticket kept after its request left does not take out the request
    /// that has its entry since.
    @Test func aStaleTicketTakesNothing() throws {
        var queue = UpstreamQueue(capacity: 1)
        let firstInserted = queue.insert(1, since: Self.at(0))
        let first = try #require(firstInserted)
        let oldest = queue.removeOldest()
        #expect(oldest == 1)
        let secondInserted = queue.insert(2, since: Self.at(1))
        let second = try #require(secondInserted)
        #expect(second.entry == first.entry, "the one entry, reused")
        let stale = queue.remove(first)
        let unknown = queue.remove(UpstreamQueue.Ticket(entry: 5, generation: 1))
        #expect(!stale && !unknown)
        #expect(queue.count == 1 && queue.oldest?.slot == 2)
    }

    /// A request that waited before (a reload's new pool, a server that had no
    /// room after all) goes back in its turn, ahead of those that came after it.
    @Test func aRequestThatWaitedBeforeKeepsItsTurn() {
        var queue = UpstreamQueue(capacity: 4)
        _ = queue.insert(2, since: Self.at(20))
        _ = queue.insert(3, since: Self.at(30))
        _ = queue.insert(1, since: Self.at(10))
        _ = queue.insert(4, since: Self.at(30))
        #expect(Self.drain(&queue) == [1, 2, 3, 4])
    }

    @Test func aQueueOfNoneRefusesAll() {
        var queue = UpstreamQueue(capacity: 0)
        let ticket = queue.insert(1, since: Self.start)
        #expect(ticket == nil)
        #expect(queue.removeOldest() == nil)
    }
}
