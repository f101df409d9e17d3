import Testing
@testable import MTCP

/// The heap behind SRPT on its own: random pushes, pops and compactions against
/// a sorted reference, including the compaction that runs only when the heap
/// is full of entries of ended connections.
@Suite struct ConnectionHeapTests {
    @Test(arguments: [1, 2, 3, 4, 5])
    func popsInKeyOrderThroughCompactions(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let capacity = 16
        var heap = ConnectionHeap(capacity: capacity)
        // The reference: every entry in the heap, live or not, by key.
        var reference: [(key: UInt64, tieBreak: UInt64, id: ConnectionID)] = []
        var live = Set<Int32>()
        var nextIndex: Int32 = 0
        for _ in 0..<2000 {
            switch random.next() % 4 {
            case 0, 1:
                let id = ConnectionID(index: nextIndex, generation: 0)
                // Few keys, so that many are equal and the second key decides.
                let key = random.next() % 8, tieBreak = random.next() % 100_000
                if !heap.push(id, key: key, tieBreak: tieBreak) {
                    #expect(reference.count == capacity)
                    heap.compact { live.contains($0.id.index) }
                    reference.removeAll { !live.contains($0.id.index) }
                    #expect(heap.count == reference.count)
                    guard heap.push(id, key: key, tieBreak: tieBreak) else { continue }
                }
                reference.append((key, tieBreak, id))
                live.insert(nextIndex)
                nextIndex += 1
            case 2:
                // The connection behind a random entry ends; its entry stays behind.
                if let ended = reference.randomElement(using: &random) { live.remove(ended.id.index) }
            default:
                let top = heap.top
                guard let popped = heap.pop() else {
                    #expect(reference.isEmpty && top == nil)
                    continue
                }
                #expect(top?.id == popped.id && top?.key == popped.key)
                let smallest = reference.map { [$0.key, $0.tieBreak] }.min { $0.lexicographicallyPrecedes($1) }
                #expect([popped.key, popped.tieBreak] == smallest)
                let position = reference.firstIndex { $0.id == popped.id }
                #expect(position != nil && reference[position!].key == popped.key
                        && reference[position!].tieBreak == popped.tieBreak)
                if let position { reference.remove(at: position) }
                live.remove(popped.id.index)
            }
            #expect(heap.count == reference.count)
        }
        // What is left comes out in key order.
        var last: [UInt64] = [0, 0]
        while let entry = heap.pop() {
            #expect(!([entry.key, entry.tieBreak].lexicographicallyPrecedes(last)))
            last = [entry.key, entry.tieBreak]
        }
    }
}
