import Testing
@testable import MTCP

@Suite struct TimerWheelTests {
    static let origin = Instant(nanoseconds: 1_000_000_000)

    static func at(_ milliseconds: Double) -> Instant {
        Instant(nanoseconds: origin.nanoseconds + UInt64(milliseconds * 1e6))
    }

    static func drain(_ wheel: inout TimerWheel, now: Instant) -> [Int] {
        var fired: [Int] = []
        while let node = wheel.nextExpired(now: now) { fired.append(node) }
        return fired
    }

    /// The connection timers' node arithmetic uses a written-out count.
    @Test func aConnectionsTimerNodesCoverEveryTimer() {
        #expect(TCPTimer.count == TCPTimer.allCases.count)
        for timer in TCPTimer.allCases {
            let (connection, decoded) = TCPTimer.decode(timer.node(7))
            #expect(connection == 7 && decoded == timer)
        }
    }

    @Test func firesInDeadlineOrderNeverEarly() {
        var wheel = TimerWheel(nodeCount: 8, slotCount: 16, granularity: .milliseconds(1), start: Self.origin)
        wheel.schedule(3, at: Self.at(5))
        wheel.schedule(1, at: Self.at(2.5))
        wheel.schedule(2, at: Self.at(3))
        #expect(wheel.scheduledCount == 3)
        #expect(Self.drain(&wheel, now: Self.at(2.4)).isEmpty)
        // 2.5 ms is due at the 3 ms boundary: not at 2.9 ms (tick granularity), fired by 3 ms.
        #expect(Self.drain(&wheel, now: Self.at(2.9)).isEmpty)
        #expect(Self.drain(&wheel, now: Self.at(3)).sorted() == [1, 2])
        #expect(Self.drain(&wheel, now: Self.at(4.99)).isEmpty)
        #expect(Self.drain(&wheel, now: Self.at(10)) == [3])
        #expect(wheel.scheduledCount == 0)
        #expect(!wheel.isScheduled(3) && wheel.deadline(of: 3) == nil)
    }

    @Test func aLatePollFiresEarlierTicksFirst() {
        var wheel = TimerWheel(nodeCount: 8, slotCount: 16, granularity: .milliseconds(1), start: Self.origin)
        for (node, ms) in [(0, 7.0), (1, 1.0), (2, 12.0), (3, 4.0), (4, 9.5)] {
            wheel.schedule(node, at: Self.at(ms))
        }
        #expect(Self.drain(&wheel, now: Self.at(30)) == [1, 3, 0, 4, 2])
    }

    @Test func exactDeadlineOnATickBoundaryFiresThen() {
        var wheel = TimerWheel(nodeCount: 1, slotCount: 4, granularity: .milliseconds(1), start: Self.origin)
        wheel.schedule(0, at: Self.at(2))
        #expect(wheel.nextExpired(now: Instant(nanoseconds: Self.at(2).nanoseconds - 1)) == nil)
        #expect(wheel.nextExpired(now: Self.at(2)) == 0)
    }

    @Test func cancelDisarms() {
        var wheel = TimerWheel(nodeCount: 4, slotCount: 8, granularity: .milliseconds(1), start: Self.origin)
        wheel.schedule(0, at: Self.at(1))
        wheel.schedule(1, at: Self.at(1))
        wheel.schedule(2, at: Self.at(1))
        #expect(wheel.cancel(1) == true)
        #expect(wheel.cancel(1) == false, "already idle")
        #expect(wheel.cancel(3) == false, "never armed")
        #expect(wheel.scheduledCount == 2)
        #expect(!wheel.isScheduled(1) && wheel.isScheduled(0))
        #expect(Self.drain(&wheel, now: Self.at(5)).sorted() == [0, 2])
    }

    @Test func rescheduleMovesTheTimer() {
        var wheel = TimerWheel(nodeCount: 2, slotCount: 8, granularity: .milliseconds(1), start: Self.origin)
        wheel.schedule(0, at: Self.at(2))
        wheel.schedule(0, at: Self.at(6))  // later
        #expect(wheel.scheduledCount == 1)
        #expect(wheel.deadline(of: 0) == Self.at(6))
        #expect(Self.drain(&wheel, now: Self.at(5)).isEmpty)
        wheel.schedule(0, at: Self.at(5.5))  // earlier again
        #expect(Self.drain(&wheel, now: Self.at(6)) == [0])
        #expect(Self.drain(&wheel, now: Self.at(100)).isEmpty, "fires once")
    }

    @Test func cancellingOrReschedulingWhileDraining() {
        var wheel = TimerWheel(nodeCount: 3, slotCount: 8, granularity: .milliseconds(1), start: Self.origin)
        for node in 0 ..< 3 { wheel.schedule(node, at: Self.at(1)) }
        let first = wheel.nextExpired(now: Self.at(1))!
        let others = (0 ..< 3).filter { $0 != first }
        wheel.cancel(others[0])               // due, then cancelled: must not fire
        wheel.schedule(others[1], at: Self.at(4))  // due, then pushed back
        wheel.schedule(first, at: Self.at(3))      // the fired one rearmed
        #expect(wheel.nextExpired(now: Self.at(1)) == nil)
        #expect(Self.drain(&wheel, now: Self.at(3)) == [first])
        #expect(Self.drain(&wheel, now: Self.at(4)) == [others[1]])
    }

    @Test func pastDeadlineFiresAtTheNextCall() {
        var wheel = TimerWheel(nodeCount: 3, slotCount: 8, granularity: .milliseconds(1), start: Self.origin)
        #expect(wheel.nextExpired(now: Self.at(10.3)) == nil)
        wheel.schedule(0, at: Self.at(10.2))   // behind the last `now` seen
        wheel.schedule(1, at: Self.origin)     // the very start
        wheel.schedule(2, at: .zero)           // before the start
        #expect(Self.drain(&wheel, now: Self.at(10.3)).sorted() == [0, 1, 2])
    }

    @Test func farFutureTimersWaitForTheirTurn() {
        // Span: 8 slots x 1 ms. A timer 100 ms out passes its slot 12 times first.
        var wheel = TimerWheel(nodeCount: 2, slotCount: 8, granularity: .milliseconds(1), start: Self.origin)
        wheel.schedule(0, at: Self.at(100))
        wheel.schedule(1, at: Self.at(4))
        var fired: [(Int, Double)] = []
        for step in 0 ... 120 {
            for node in Self.drain(&wheel, now: Self.at(Double(step))) { fired.append((node, Double(step))) }
        }
        #expect(fired.map(\.0) == [1, 0])
        #expect(fired.map(\.1) == [4, 100])
    }

    @Test func idleWheelSkipsLongGapsAndKeepsWorking() {
        var wheel = TimerWheel(nodeCount: 1, slotCount: 4, granularity: .microseconds(10), start: Self.origin)
        #expect(wheel.nextExpired(now: Self.at(3_600_000)) == nil)  // an hour of 10 µs ticks, nothing armed
        wheel.schedule(0, at: Self.at(3_600_000.05))
        #expect(wheel.nextExpired(now: Self.at(3_600_000.04)) == nil)
        #expect(wheel.nextExpired(now: Self.at(3_600_000.06)) == 0)
    }

    /// 100k timers with seeded random deadlines up to 5 wheel revolutions out, a
    /// tenth rescheduled and a tenth cancelled on the way: every armed timer fires
    /// exactly once, never before its deadline, and less than one granularity after
    /// it (at the first poll past its tick boundary).
    @Test func manyRandomTimersFireOnceOnTime() {
        let count = 100_000
        let granularity = TimeSpan.milliseconds(1)
        var wheel = TimerWheel(nodeCount: count, slotCount: 1024, granularity: granularity, start: Self.origin)
        let storage = wheel.storageAddresses
        var random = SeededRandom(seed: 0x7133_0001)
        let horizon: UInt64 = 5_000_000_000
        var deadlines = [UInt64](repeating: 0, count: count)  // 0: not armed
        for node in 0 ..< count {
            deadlines[node] = Self.origin.nanoseconds + UInt64.random(in: 0 ..< horizon, using: &random)
            wheel.schedule(node, at: Instant(nanoseconds: deadlines[node]))
        }
        #expect(wheel.scheduledCount == count)

        var now = Self.origin.nanoseconds
        var previous = now
        var firedCount = 0
        var early = 0, late = 0, twice = 0
        var step = 0
        while now < Self.origin.nanoseconds + horizon + 10_000_000 {
            while let node = wheel.nextExpired(now: Instant(nanoseconds: now)) {
                let deadline = deadlines[node]
                if deadline == 0 { twice += 1; continue }
                if deadline > now { early += 1 }
                // Not due at the previous poll means it was not yet past its tick boundary.
                if previous >= deadline + granularity.nanoseconds { late += 1 }
                deadlines[node] = 0
                firedCount += 1
            }
            // Churn: push some pending timers around, cancel others.
            step += 1
            if step % 3 == 0 {
                let node = Int.random(in: 0 ..< count, using: &random)
                if deadlines[node] != 0 {
                    if random.next() & 1 == 0 {
                        deadlines[node] = now + UInt64.random(in: 0 ..< 50_000_000, using: &random)
                        wheel.schedule(node, at: Instant(nanoseconds: deadlines[node]))
                    } else {
                        deadlines[node] = 0
                        wheel.cancel(node)
                    }
                }
            }
            previous = now
            now += UInt64.random(in: 1 ..< 3_000_000, using: &random)
        }
        #expect(early == 0)
        #expect(late == 0)
        #expect(twice == 0)
        #expect(wheel.scheduledCount == 0)
        #expect(deadlines.allSatisfy { $0 == 0 })
        #expect(firedCount > count * 9 / 10)
        #expect(wheel.storageAddresses == storage, "storage is allocated once, in init")
    }
}
