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
            buffer.reset(storage: chunk)
            #expect(buffer.append([1, 2, 3, 4, 5]) == 4)
            buffer.reset(storage: chunk)
            #expect(buffer.count == 0)
            #expect(buffer.free == 4)
        }
    }

    @Test func matchesAModelUnderRandomUse() {
        var random = SeededRandom(seed: 0x5E_4DB0)
        var mismatches = 0
        for _ in 0..<20 {
            let capacity = Int.random(in: 1...300, using: &random)
            withChunk(capacity) { chunk in
                var buffer = SendBuffer(storage: chunk)
                var model: [UInt8] = []
                for _ in 0..<300 {
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0:
                        let bytes = (0..<Int.random(in: 0...capacity, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                        let n = buffer.append(bytes)
                        if n != min(bytes.count, capacity - model.count) { mismatches += 1 }
                        model += bytes[..<n]
                    case 1:
                        let n = Int.random(in: 0...model.count, using: &random)
                        buffer.acknowledge(n)
                        model.removeFirst(n)
                    default:
                        let offset = Int.random(in: 0...model.count, using: &random)
                        let count = Int.random(in: 0...(model.count - offset), using: &random)
                        if buffer.bytes(from: offset, count: count) != Array(model[offset..<offset + count]) { mismatches += 1 }
                    }
                    if buffer.count != model.count || buffer.free != capacity - model.count { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0)
    }
}
