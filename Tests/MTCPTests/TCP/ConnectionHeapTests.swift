import Testing
@testable import MTCP

/// The heap behind SRPT on its own: random inserts, re-keyings, removals from
/// anywhere and pops against a reference of one entry per connection slot.
@Suite struct ConnectionHeapTests {
    @Test(arguments: [1, 2, 3, 4, 5])
    func keepsOneEntryPerSlotInKeyOrder(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let slots: Int32 = 16
        var heap = ConnectionHeap(slots: Int(slots))
        var reference: [Int32: (key: UInt64, tieBreak: UInt64)] = [:]
        for _ in 0..<4000 {
            let slot = Int32(random.next() % UInt64(slots))
            switch random.next() % 4 {
            case 0, 1:
                // Few keys, so that many are equal and the second key decides;
                // a slot already in the heap is re-keyed, up or down.
                let key = random.next() % 8, tieBreak = random.next() % 100_000
                heap.insert(ConnectionID(index: slot, generation: 0), key: key, tieBreak: tieBreak)
                reference[slot] = (key, tieBreak)
            case 2:
                heap.remove(slot: slot)
                reference[slot] = nil
            default:
                let top = heap.top
                guard let popped = heap.pop() else {
                    #expect(reference.isEmpty && top == nil)
                    continue
                }
                #expect(top?.id == popped.id && top?.key == popped.key)
                let smallest = reference.values.map { [$0.key, $0.tieBreak] }
                    .min { $0.lexicographicallyPrecedes($1) }
                #expect([popped.key, popped.tieBreak] == smallest)
                #expect(reference[popped.id.index].map { [$0.key, $0.tieBreak] } == [popped.key, popped.tieBreak])
                reference[popped.id.index] = nil
            }
            #expect(heap.count == reference.count)
            for slot in 0..<slots { #expect(heap.contains(slot: slot) == (reference[slot] != nil)) }
        }
        // What is left comes out in key order.
        var last: [UInt64] = [0, 0]
        while let entry = heap.pop() {
            #expect(!([entry.key, entry.tieBreak].lexicographicallyPrecedes(last)))
            last = [entry.key, entry.tieBreak]
        }
        #expect((0..<slots).allSatisfy { !heap.contains(slot: $0) })
    }
}
