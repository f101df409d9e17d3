import Testing
@testable import MTCP

/// Runs `body` with `size` bytes of scratch memory standing in for a pool chunk.
private func withChunk<R>(_ size: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    defer { chunk.deallocate() }
    return try body(chunk)
}

private extension SendBuffer {
    mutating func append(_ bytes: [UInt8]) -> Int { bytes.withUnsafeBytes { append($0) } }

    func bytes(from offset: Int, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            copy(from: offset, count: count, into: UnsafeMutableRawPointer(buffer.baseAddress!))
            initialized = count
        }
    }
}

/// A send buffer driven by random steps beside a plain array of the bytes it
/// should hold; `mismatches` counts where the two disagree.
private struct ModelledSendBuffer {
    var buffer: SendBuffer
    var model: [UInt8] = []
    var mismatches = 0

    /// Appends up to `capacity` random bytes; `room` is how many must be taken.
    mutating func appendRandomBytes(upTo capacity: Int, room: Int, using random: inout SeededRandom) {
        let bytes = (0..<Int.random(in: 0...capacity, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let n = buffer.append(bytes)
        if n != min(bytes.count, room) { mismatches += 1 }
        model += bytes[..<n]
    }

    mutating func acknowledgeRandomly(using random: inout SeededRandom) {
        let n = Int.random(in: 0...model.count, using: &random)
        buffer.acknowledge(n)
        model.removeFirst(n)
    }

    mutating func compareRandomRange(using random: inout SeededRandom) {
        let offset = Int.random(in: 0...model.count, using: &random)
        let count = Int.random(in: 0...(model.count - offset), using: &random)
        if buffer.bytes(from: offset, count: count) != Array(model[offset..<offset + count]) { mismatches += 1 }
    }
}

@Suite struct SendBufferTests {
    @Test func appendsWhatFits() {
        withChunk(10) { chunk in
            var buffer = SendBuffer(storage: chunk)
            #expect(buffer.capacity == 10)
            #expect(buffer.free == 10)
            #expect(buffer.append(Array(1...6)) == 6)
            #expect(buffer.append(Array(7...12)) == 4)
            #expect(buffer.count == 10)
            #expect(buffer.free == 0)
            #expect(buffer.append([99]) == 0)
            #expect(buffer.bytes(from: 0, count: 10) == Array(1...10))
            #expect(buffer.bytes(from: 3, count: 4) == [4, 5, 6, 7])
        }
    }

    @Test func wrapsAroundTheRing() {
        withChunk(10) { chunk in
            var buffer = SendBuffer(storage: chunk)
            #expect(buffer.append(Array(1...8)) == 8)
            buffer.acknowledge(6)
            #expect(buffer.count == 2)
            #expect(buffer.append(Array(9...16)) == 8)   // 4 before the end, 4 wrapped
            #expect(buffer.count == 10)
            #expect(buffer.bytes(from: 0, count: 10) == Array(7...16))
            #expect(buffer.bytes(from: 2, count: 3) == [9, 10, 11])    // before the wrap
            #expect(buffer.bytes(from: 3, count: 4) == [10, 11, 12, 13]) // across it
            #expect(buffer.bytes(from: 7, count: 3) == [14, 15, 16])   // after it
            #expect(buffer.bytes(from: 10, count: 0) == [])
            buffer.acknowledge(5)
            #expect(buffer.bytes(from: 0, count: 5) == Array(12...16))
        }
    }

    @Test func producerFillsTheFreeRoomInPlaceAcrossTheWrap() {
        withChunk(10) { chunk in
            var buffer = SendBuffer(storage: chunk)
            #expect(buffer.append(Array(1...8)) == 8)
            buffer.acknowledge(6)
            var runs: [Int] = []
            // 2 held at indices 6 and 7: the room is 2 before the end, then 6 from the start.
            let produced = buffer.append(upTo: 5) { first, second in
                runs = [first.count, second.count]
                for index in first.indices { first[index] = UInt8(9 + index) }
                for index in second.indices { second[index] = UInt8(11 + index) }
                return 4  // fewer than given, as a short file read
            }
            #expect(produced == 4)
            #expect(runs == [2, 3])
            #expect(buffer.count == 6)
            #expect(buffer.bytes(from: 0, count: 6) == Array(7...12))
            // A producer that gives nothing adds nothing.
            #expect(buffer.append(upTo: 10) { _, _ in 0 } == 0)
            #expect(buffer.count == 6)
        }
    }

    @Test func producerIsNotCalledWithoutRoom() {
        withChunk(4) { chunk in
            var buffer = SendBuffer(storage: chunk)
            #expect(buffer.append([1, 2, 3, 4]) == 4)
            var called = false
            #expect(buffer.append(upTo: 4) { _, _ in called = true; return 0 } == 0)
            #expect(buffer.append(upTo: 0) { _, _ in called = true; return 0 } == 0)
            #expect(!called)
        }
    }

    @Test func referencedRegionsAreSentFromWhereTheyLieBetweenCopies() {
        withChunk(16) { chunk in
            let region: [UInt8] = Array(101...110)
            region.withUnsafeBytes { region in
                var buffer = SendBuffer(storage: chunk)
                #expect(buffer.append([1, 2, 3]) == 3)
                #expect(buffer.appendReference(UnsafeRawBufferPointer(rebasing: region[0..<4]), tag: 7) == 4)
                // The next part of the same region extends its run.
                #expect(buffer.appendReference(UnsafeRawBufferPointer(rebasing: region[4..<6]), tag: 7) == 2)
                #expect(buffer.append([4, 5]) == 2)
                #expect(buffer.count == 11)
                #expect(buffer.free == 5, "references take capacity as copies do")
                #expect(chunk[3] == 4, "only the copies are in the ring")
                #expect(buffer.bytes(from: 0, count: 11) == [1, 2, 3, 101, 102, 103, 104, 105, 106, 4, 5])
                #expect(buffer.bytes(from: 2, count: 6) == [3, 101, 102, 103, 104, 105])
                let below8 = buffer.referencesTag(below: 8), below7 = buffer.referencesTag(below: 7)
                #expect(below8)
                #expect(!below7)
                buffer.acknowledge(5)  // the copies, and two bytes of the region
                #expect(buffer.bytes(from: 0, count: 6) == [103, 104, 105, 106, 4, 5])
                buffer.acknowledge(4)
                let stillReferenced = buffer.referencesTag(below: 8)
                #expect(!stillReferenced, "the region is acknowledged")
                #expect(buffer.bytes(from: 0, count: 2) == [4, 5])
                // Back to a plain ring: a copy goes after the held bytes.
                #expect(buffer.append([6]) == 1)
                #expect(buffer.bytes(from: 0, count: 3) == [4, 5, 6])
                buffer.acknowledge(3)
                #expect(buffer.isEmpty)
            }
        }
    }

    @Test func referencesBeyondTheRunsAreCopied() {
        withChunk(64) { chunk in
            let region: [UInt8] = Array(1...8)
            region.withUnsafeBytes { region in
                var buffer = SendBuffer(storage: chunk)
                // Separate regions (not contiguous with the run before): all
                // runs but one by reference, then copies into the ring.
                for index in 0..<4 {
                    #expect(buffer.appendReference(UnsafeRawBufferPointer(rebasing: region[(2 * index)..<(2 * index + 1)]),
                                                   tag: 1) == 1)
                }
                #expect(buffer.append([9]) == 1)
                #expect(Array(chunk[0..<2]) == [7, 9], "the fourth region and the copy after it are in the ring")
                #expect(buffer.free == 64 - 5)
                #expect(buffer.bytes(from: 0, count: 5) == [1, 3, 5, 7, 9])
                buffer.acknowledge(4)
                #expect(buffer.bytes(from: 0, count: 1) == [9])
            }
        }
    }

    @Test func referencesMatchAModelUnderRandomUse() {
        var random = SeededRandom(seed: 0x2EF5)
        var mismatches = 0
        // Memory that stays put while the buffer references it.
        let regions = (0..<8).map { region in
            let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 200, alignment: 1)
            for index in memory.indices { memory[index] = UInt8(truncatingIfNeeded: region &* 31 &+ index) }
            return UnsafeRawBufferPointer(memory)
        }
        defer { regions.forEach { $0.deallocate() } }
        for _ in 0..<30 {
            let capacity = Int.random(in: 1...120, using: &random)
            withChunk(capacity) { chunk in
                var run = ModelledSendBuffer(buffer: SendBuffer(storage: chunk))
                for _ in 0..<300 {
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0:
                        run.appendRandomBytes(upTo: capacity, room: run.buffer.free, using: &random)
                    case 1:
                        let region = regions[Int.random(in: 0..<regions.count, using: &random)]
                        let start = Int.random(in: 0..<region.count, using: &random)
                        let end = Int.random(in: start...region.count, using: &random)
                        let room = run.buffer.free
                        let n = run.buffer.appendReference(UnsafeRawBufferPointer(rebasing: region[start..<end]), tag: 1)
                        if n != min(end - start, room) { run.mismatches += 1 }
                        run.model += region[start..<start + n]
                    case 2:
                        run.acknowledgeRandomly(using: &random)
                    default:
                        run.compareRandomRange(using: &random)
                    }
                    if run.buffer.count != run.model.count || run.buffer.free > capacity - run.model.count {
                        run.mismatches += 1
                    }
                }
                mismatches += run.mismatches
            }
        }
        #expect(mismatches == 0)
    }

    @Test func emptiedBufferRestartsContiguous() {
        withChunk(8) { chunk in
            var buffer = SendBuffer(storage: chunk)
            _ = buffer.append(Array(1...5))
            buffer.acknowledge(5)
            #expect(buffer.isEmpty)
            #expect(buffer.append(Array(1...8)) == 8)
            // Back at index 0: the whole run is one region of the chunk.
            #expect(Array(chunk) == Array(1...8))
        }
    }

    @Test func bufferWithoutStorage() {
        var buffer = SendBuffer()
        #expect(buffer.capacity == 0)
        #expect(buffer.append([1, 2]) == 0)
        buffer.acknowledge(0)
        withChunk(4) { chunk in
            buffer.reset(capacity: 4, storage: chunk)
            #expect(buffer.append([1, 2, 3, 4, 5]) == 4)
            buffer.reset(capacity: 4, storage: chunk)
            #expect(buffer.count == 0)
            #expect(buffer.free == 4)
        }
    }

    /// The ring needs its chunk only while it holds bytes: without one the
    /// buffer keeps its capacity, takes references, and gives the chunk back
    /// once every copied byte is acknowledged.
    @Test func theChunkIsAttachedForCopiesAndDetachedWhenTheRingEmpties() {
        withChunk(8) { chunk in
            var buffer = SendBuffer()
            buffer.reset(capacity: 8, storage: UnsafeMutableRawBufferPointer(start: nil, count: 0))
            #expect(!buffer.chunk.isAttached && !buffer.chunkCanGoBack)
            #expect(buffer.capacity == 8 && buffer.free == 8)
            let region: [UInt8] = [9, 9, 9]
            region.withUnsafeBytes { #expect(buffer.appendReference($0, tag: 1) == 3) }
            #expect(!buffer.chunk.isAttached, "a reference needs no ring")
            buffer.chunk.attach(chunk)
            #expect(buffer.append([1, 2, 3]) == 3)
            #expect(!buffer.chunkCanGoBack)
            buffer.acknowledge(4)
            #expect(!buffer.chunkCanGoBack, "two copied bytes still to be acknowledged")
            var out = [UInt8](repeating: 0, count: 2)
            out.withUnsafeMutableBytes { buffer.copy(from: 0, count: 2, into: $0.baseAddress!) }
            #expect(out == [2, 3])
            buffer.acknowledge(2)
            #expect(buffer.chunkCanGoBack)
            let detached = buffer.chunk.detach()
            #expect(detached.baseAddress == chunk.baseAddress)
            #expect(!buffer.chunk.isAttached && buffer.free == 8)
            buffer.chunk.attach(chunk)
            #expect(buffer.append([4, 5]) == 2)
            #expect(Array(chunk.prefix(2)) == [4, 5], "an attached ring starts at the chunk's start")
        }
    }

    @Test func matchesAModelUnderRandomUse() {
        var random = SeededRandom(seed: 0x5E_4DB0)
        var mismatches = 0
        for _ in 0..<20 {
            let capacity = Int.random(in: 1...300, using: &random)
            withChunk(capacity) { chunk in
                var run = ModelledSendBuffer(buffer: SendBuffer(storage: chunk))
                for _ in 0..<300 {
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: run.appendRandomBytes(upTo: capacity, room: capacity - run.model.count, using: &random)
                    case 1: run.acknowledgeRandomly(using: &random)
                    default: run.compareRandomRange(using: &random)
                    }
                    if run.buffer.count != run.model.count || run.buffer.free != capacity - run.model.count {
                        run.mismatches += 1
                    }
                }
                mismatches += run.mismatches
            }
        }
        #expect(mismatches == 0)
    }
}
