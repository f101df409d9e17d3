import Testing
@testable import MTCP

/// The SRPT heap on its own: random pushes, pops and compactions against a
/// sorted reference, including the compaction that runs only when the heap is
/// full of entries of ended connections.
@Suite struct SizeOrderedQueueTests {
    @Test(arguments: [1, 2, 3, 4, 5])
    func popsInKeyOrderThroughCompactions(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let capacity = 16
        var queue = SizeOrderedQueue(capacity: capacity)
        // The reference: every entry in the heap, live or not, by key.
        var reference: [(key: UInt64, id: ConnectionID)] = []
        var live = Set<Int32>()
        var nextIndex: Int32 = 0
        for _ in 0..<2000 {
            switch random.next() % 4 {
            case 0, 1:
                let id = ConnectionID(index: nextIndex, generation: 0)
                let remaining = Int(random.next() % 100_000)
                let since = Instant(nanoseconds: random.next() % 1_000_000_000)
                if !queue.push(id, remaining: remaining, waitingSince: since) {
                    #expect(reference.count == capacity)
                    queue.compact { live.contains($0.index) }
                    reference.removeAll { !live.contains($0.id.index) }
                    #expect(queue.count == reference.count)
                    guard queue.push(id, remaining: remaining, waitingSince: since) else { continue }
                }
                reference.append((SizeOrderedQueue.key(remaining: remaining, waitingSince: since), id))
                live.insert(nextIndex)
                nextIndex += 1
            case 2:
                // The connection behind a random entry ends; its entry stays behind.
                if let ended = reference.randomElement(using: &random) { live.remove(ended.id.index) }
            default:
                guard let popped = queue.pop() else {
                    #expect(reference.isEmpty)
                    continue
                }
                let smallest = reference.map(\.key).min()
                #expect(popped.key == smallest)
                let position = reference.firstIndex { $0.id == popped.id }
                #expect(position != nil && reference[position!].key == popped.key)
                if let position { reference.remove(at: position) }
                live.remove(popped.id.index)
            }
            #expect(queue.count == reference.count)
        }
        // What is left comes out in key order.
        var last: UInt64 = 0
        while let entry = queue.pop() {
            #expect(entry.key >= last)
            last = entry.key
        }
    }
}
