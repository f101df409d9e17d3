import Testing
@testable import MTCP

@Suite struct FlowTableTests {
    static let base = IPv4FlowKey(localAddress: IPv4Address(198, 18, 0, 1), localPort: 80,
                                remoteAddress: IPv4Address(198, 18, 0, 2), remotePort: 40_000)

    static func client(_ n: Int) -> IPv4FlowKey {
        var key = base
        key.remotePort = UInt16(truncatingIfNeeded: 1024 + n)
        key.remoteAddress = IPv4Address(198, 18, 1, UInt8(truncatingIfNeeded: n >> 16))
        return key
    }

    @Test func insertLookupRemove() {
        var table = FlowTable<IPv4FlowKey>(capacity: 16)
        #expect(table.slotCount == 32 && table.capacity == 16)
        #expect(table.lookup(Self.base) == nil)
        #expect(table.insert(Self.base, 7) == true)
        #expect(table.insert(Self.base, 8) == false, "duplicate refused")
        #expect(table.lookup(Self.base) == 7)
        #expect(table.count == 1)
        #expect(table.remove(Self.base) == 7)
        #expect(table.remove(Self.base) == nil)
        #expect(table.lookup(Self.base) == nil)
        #expect(table.count == 0)
        #expect(table.insert(Self.base, -3) == true, "any Int32 value")
        #expect(table.lookup(Self.base) == -3)
    }

    @Test func slotCountIsAPowerOfTwoAtLeastTwiceCapacity() {
        for capacity in [1, 2, 3, 100, 1000, 1024, 1025] {
            let table = FlowTable<IPv4FlowKey>(capacity: capacity)
            #expect(table.slotCount.nonzeroBitCount == 1)
            #expect(table.slotCount >= 2 * capacity)
            #expect(table.slotCount < 4 * capacity || table.slotCount == 2)
        }
    }

    @Test func keysDifferingInOneFieldAreDistinct() {
        var table = FlowTable<IPv4FlowKey>(capacity: 8)
        var localAddress = Self.base, localPort = Self.base, remoteAddress = Self.base, remotePort = Self.base
        localAddress.localAddress = IPv4Address(198, 18, 0, 3)
        localPort.localPort = 81
        remoteAddress.remoteAddress = IPv4Address(198, 18, 0, 4)
        remotePort.remotePort = 40_001
        let swapped = IPv4FlowKey(localAddress: Self.base.remoteAddress, localPort: Self.base.remotePort,
                                remoteAddress: Self.base.localAddress, remotePort: Self.base.localPort)
        let keys = [Self.base, localAddress, localPort, remoteAddress, remotePort, swapped]
        for (value, key) in keys.enumerated() { #expect(table.insert(key, Int32(value)) == true) }
        for (value, key) in keys.enumerated() { #expect(table.lookup(key) == Int32(value)) }
        #expect(table.remove(localPort) == 2)
        #expect(table.lookup(Self.base) == 0 && table.lookup(remotePort) == 4)
        #expect(table.count == keys.count - 1)
    }

    @Test func fullTableRefusesAndKeepsWorking() {
        var table = FlowTable<IPv4FlowKey>(capacity: 100)
        for n in 0 ..< 100 { #expect(table.insert(Self.client(n), Int32(n)) == true) }
        #expect(table.insert(Self.client(100), 100) == false, "full")
        #expect(table.lookup(Self.client(100)) == nil)
        #expect(table.insert(Self.client(5), 5) == false, "duplicate while full")
        for n in 0 ..< 100 { #expect(table.lookup(Self.client(n)) == Int32(n)) }
        #expect(table.remove(Self.client(42)) == 42)
        #expect(table.insert(Self.client(100), 100) == true)
        #expect(table.lookup(Self.client(100)) == 100)
        #expect(table.count == 100)
        #expect(table.checkInvariants() == true)
    }

    /// Keys that all start probing at one slot: removing from the middle of the run
    /// must shift the rest back so that every one stays reachable.
    @Test func backwardShiftKeepsCollidingRunsReachable() {
        var table = FlowTable<IPv4FlowKey>(capacity: 64, key: SipHash(key0: 99, key1: 0x5EED))
        let target = table.homeSlot(for: Self.base)
        var colliding: [IPv4FlowKey] = []
        var n = 0
        while colliding.count < 6 {
            let key = Self.client(n)
            if table.homeSlot(for: key) == target { colliding.append(key) }
            n += 1
        }
        // Neighbours homed just after the target, interleaved into the run.
        var neighbours: [IPv4FlowKey] = []
        while neighbours.count < 3 {
            let key = Self.client(n)
            if table.homeSlot(for: key) == (target + 1) & (table.slotCount - 1) { neighbours.append(key) }
            n += 1
        }
        for (i, key) in (colliding + neighbours).enumerated() { #expect(table.insert(key, Int32(i)) == true) }
        #expect(table.remove(colliding[1]) == 1)
        #expect(table.remove(colliding[0]) == 0)
        #expect(table.checkInvariants() == true)
        for (i, key) in (colliding + neighbours).enumerated() where i > 1 {
            #expect(table.lookup(key) == Int32(i))
        }
        for key in colliding + neighbours { table.remove(key) }
        #expect(table.count == 0 && table.checkInvariants())
    }

    /// 1M seeded random operations on a 2048-entry (4096-slot) table, checked
    /// against a Dictionary, from a key pool larger than the capacity so that the
    /// table is often full.
    @Test func churnMatchesADictionary() {
        var random = SeededRandom(seed: 0xF10E_7AB1)
        var table = FlowTable<IPv4FlowKey>(capacity: 2048, key: SipHash(using: &random))
        #expect(table.slotCount == 4096)
        let storage = table.storageAddress
        let pool = (0 ..< 3200).map { _ in
            IPv4FlowKey(localAddress: IPv4Address(198, 18, 0, UInt8.random(in: 1 ... 4, using: &random)),
                      localPort: UInt16.random(in: 79 ... 81, using: &random),
                      remoteAddress: IPv4Address(UInt32.random(in: 0 ... UInt32.max, using: &random)),
                      remotePort: UInt16.random(in: 0 ... UInt16.max, using: &random))
        }
        var oracle: [IPv4FlowKey: Int32] = [:]
        var mismatches = 0
        var refusedFull = 0
        for operation in 0 ..< 1_000_000 {
            let bits = random.next()
            let key = pool[Int(bits >> 32) % pool.count]
            switch bits & 3 {
            case 0, 1:
                let value = Int32(truncatingIfNeeded: bits >> 8)
                let expected = oracle[key] == nil && oracle.count < 2048
                if oracle[key] == nil && !expected { refusedFull += 1 }
                if table.insert(key, value) != expected { mismatches += 1 }
                if expected { oracle[key] = value }
            case 2:
                if table.remove(key) != oracle.removeValue(forKey: key) { mismatches += 1 }
            default:
                if table.lookup(key) != oracle[key] { mismatches += 1 }
            }
            if table.count != oracle.count { mismatches += 1 }
            if operation % 100_000 == 0 { #expect(table.checkInvariants() == true) }
        }
        #expect(mismatches == 0)
        #expect(refusedFull > 1000, "the table was driven full many times")
        #expect(table.checkInvariants() == true)
        for key in pool { #expect(table.lookup(key) == oracle[key]) }
        #expect(table.storageAddress == storage, "storage is allocated once, in init")
    }

    @Test func fourTupleDescription() {
        let tuple = FourTuple(localAddress: Self.base.localAddress, localPort: 80, remoteAddress: Self.base.remoteAddress,
                              remotePort: 40_000)
        #expect(tuple.description == "198.18.0.1:80<->198.18.0.2:40000")
        let v6 = FourTuple(localAddress: IPAddress("2001:2::1")!, localPort: 80, remoteAddress: IPAddress("2001:2::2")!,
                           remotePort: 40_000)
        #expect(v6.description == "[2001:2::1]:80<->[2001:2::2]:40000")
    }
}
