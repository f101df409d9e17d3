import Testing
@testable import MTCP

/// Runs `body` with `size` bytes of scratch memory standing in for a pool chunk.
private func withChunk<R>(_ size: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    defer { chunk.deallocate() }
    return try body(chunk)
}

private extension ReceiveBuffer {
    mutating func write(_ bytes: [UInt8], at offset: Int) -> Int {
        bytes.withUnsafeBytes { write($0, at: offset) }
    }

    /// `stream[range]` written at its offset from RCV.NXT, which is `next` in stream terms.
    mutating func write(_ stream: [UInt8], _ range: Range<Int>, next: Int) -> Int {
        stream.withUnsafeBytes { write(UnsafeRawBufferPointer(rebasing: $0[range]), at: range.lowerBound - next) }
    }

    mutating func read(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { read(into: $0) }
        return Array(out[..<n])
    }

    var regionBytes: [UInt8] { Array(readableRegions.0) + Array(readableRegions.1) }

    /// Every out-of-order range, lowest first, found by asking which bytes are held.
    var blocks: [ReceiveBufferRange] {
        var buffer = self
        var found: [ReceiveBufferRange] = []
        var offset = 1
        while offset < window {
            guard let held = buffer.range(holding: offset, count: 1) else {
                offset += 1
                continue
            }
            found.append(held)
            offset = held.end
        }
        return found
    }
}

private func range(_ start: Int, _ end: Int) -> ReceiveBufferRange { ReceiveBufferRange(start: start, end: end) }

@Suite struct ReceiveBufferTests {
    // MARK: In order

    @Test func inOrderDataAcrossTheWrap() {
        withChunk(10) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            #expect(buffer.capacity == 10)
            #expect(buffer.window == 10)
            #expect(buffer.write(Array(1...6), at: 0) == 6)
            #expect(buffer.readable == 6)
            #expect(buffer.window == 4)
            #expect(buffer.read(4) == [1, 2, 3, 4])
            #expect(buffer.window == 8)
            #expect(buffer.write(Array(7...14), at: 0) == 8)   // 4 to the end, 4 wrapped
            #expect(buffer.window == 0)
            let (first, second) = buffer.readableRegions
            #expect(Array(first) == [5, 6, 7, 8, 9, 10])
            #expect(Array(second) == [11, 12, 13, 14])
            #expect(buffer.read(3) == [5, 6, 7])
            buffer.consume(4)
            #expect(buffer.regionBytes == [12, 13, 14])
            #expect(buffer.read(100) == [12, 13, 14])
            #expect(buffer.readable == 0)
            #expect(buffer.read(1) == [])
        }
    }

    @Test func readableRegionsWhenNotWrapped() {
        withChunk(16) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            #expect(buffer.readableRegions.0.isEmpty && buffer.readableRegions.1.isEmpty)
            _ = buffer.write(Array(1...5), at: 0)
            #expect(Array(buffer.readableRegions.0) == Array(1...5))
            #expect(buffer.readableRegions.1.isEmpty)
            buffer.consume(5)
            // Nothing held: the ring restarts at 0 and the next data is contiguous.
            _ = buffer.write(Array(1...16), at: 0)
            #expect(Array(buffer.readableRegions.0) == Array(1...16))
            #expect(buffer.readableRegions.1.isEmpty)
        }
    }

    @Test func bufferWithoutStorageAndReset() {
        var buffer = ReceiveBuffer()
        #expect(buffer.capacity == 0)
        #expect(buffer.window == 0)
        #expect(buffer.write([1, 2, 3], at: 0) == 0)
        withChunk(8) { chunk in
            buffer.reset(capacity: 8, storage: chunk)
            _ = buffer.write([1, 2], at: 0)
            _ = buffer.write([5], at: 4)
            buffer.reset(capacity: 8, storage: chunk)
            #expect(buffer.readable == 0)
            #expect(!buffer.hasOutOfOrderData)
            #expect(buffer.window == 8)
        }
    }

    /// Without its chunk the buffer still advertises its whole capacity; the
    /// chunk can go back only with nothing readable and nothing out of order.
    @Test func theChunkIsDetachableOnlyWhenNothingIsHeld() {
        withChunk(8) { chunk in
            var buffer = ReceiveBuffer()
            buffer.reset(capacity: 8, storage: UnsafeMutableRawBufferPointer(start: nil, count: 0))
            #expect(!buffer.chunk.isAttached && buffer.window == 8)
            buffer.chunk.attach(chunk)
            #expect(buffer.write([5], at: 2) == 0)
            #expect(!buffer.chunkCanGoBack, "out-of-order data is held")
            #expect(buffer.write([1, 2], at: 0) == 3)
            #expect(!buffer.chunkCanGoBack)
            var out = [UInt8](repeating: 0, count: 3)
            #expect(out.withUnsafeMutableBytes { buffer.read(into: $0) } == 3)
            #expect(out == [1, 2, 5])
            #expect(buffer.chunkCanGoBack)
            let detached = buffer.chunk.detach()
            #expect(detached.baseAddress == chunk.baseAddress)
            #expect(!buffer.chunk.isAttached && buffer.window == 8)
        }
    }

    // MARK: Out of order

    /// Every arrival order of a handful of segments reassembles the same bytes, and
    /// each write reports exactly the bytes it made in-order; also with the ring's
    /// start moved so that the stream wraps around its end.
    @Test(arguments: [0, 3, 9, 17])
    func everyPermutationReassembles(shift: Int) {
        let stream = (0..<20).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let segments = [0..<3, 3..<8, 8..<10, 10..<16, 16..<20]
        var failures = 0
        for order in permutations(of: Array(segments.indices)) {
            withChunk(24) { chunk in
                var buffer = ReceiveBuffer(storage: chunk)
                // Move the ring's start by `shift`, leaving one filler byte unread.
                _ = buffer.write([UInt8](repeating: 0xEE, count: shift + 1), at: 0)
                buffer.consume(shift)
                var next = 0
                var arrived = Set<Int>()
                for index in order {
                    arrived.insert(index)
                    var expectedNext = 0
                    for segment in segments where arrived.contains(segments.firstIndex(of: segment)!) && segment.lowerBound == expectedNext {
                        expectedNext = segment.upperBound
                    }
                    let n = buffer.write(stream, segments[index], next: next)
                    if n != expectedNext - next { failures += 1 }
                    next += n
                    if buffer.outOfOrderBytes != arrived.map({ segments[$0].count }).reduce(0, +) - next { failures += 1 }
                }
                if next != 20 || buffer.hasOutOfOrderData || buffer.readable != 21 { failures += 1 }
                if buffer.read(21) != [0xEE] + stream { failures += 1 }
            }
        }
        #expect(failures == 0)
    }

    @Test func overlapsAndDuplicates() {
        withChunk(32) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            let stream = (0..<30).map { UInt8($0 + 100) }
            #expect(buffer.write(stream, 10..<14, next: 0) == 0)
            #expect(buffer.blocks == [range(10, 14)])
            #expect(buffer.write(stream, 8..<12, next: 0) == 0)    // overlaps the front
            #expect(buffer.blocks == [range(8, 14)])
            #expect(buffer.write(stream, 13..<17, next: 0) == 0)   // overlaps the back
            #expect(buffer.blocks == [range(8, 17)])
            #expect(buffer.write(stream, 9..<12, next: 0) == 0)    // inside: duplicate
            #expect(buffer.blocks == [range(8, 17)])
            #expect(buffer.write(stream, 20..<22, next: 0) == 0)
            #expect(buffer.write(stream, 17..<20, next: 0) == 0)   // touches both: one range
            #expect(buffer.blocks == [range(8, 22)])
            #expect(buffer.write(stream, 6..<24, next: 0) == 0)    // covers it, both sides
            #expect(buffer.blocks == [range(6, 24)])
            #expect(buffer.outOfOrderBytes == 18)
            #expect(buffer.write(stream, 0..<4, next: 0) == 4)
            #expect(buffer.write(stream, 0..<4, next: 4) == 0)     // all before RCV.NXT
            #expect(buffer.write(stream, 2..<7, next: 4) == 20)    // starts before, reaches the range
            #expect(!buffer.hasOutOfOrderData)
            #expect(buffer.write(stream, 24..<30, next: 24) == 6)
            #expect(buffer.read(30) == stream)
        }
    }

    @Test func rangesAreRebasedWhenRcvNxtAdvances() {
        withChunk(64) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            _ = buffer.write([UInt8](repeating: 1, count: 5), at: 10)
            _ = buffer.write([UInt8](repeating: 2, count: 5), at: 30)
            #expect(buffer.write([UInt8](repeating: 0, count: 4), at: 0) == 4)
            #expect(Set(buffer.blocks) == [range(6, 11), range(26, 31)])
            #expect(buffer.write([UInt8](repeating: 0, count: 6), at: 0) == 11)
            #expect(buffer.blocks == [range(15, 20)])
        }
    }

    // MARK: Trimming

    @Test func trimsBeyondTheWindow() {
        withChunk(10) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            #expect(buffer.write(Array(1...15), at: 0) == 10)
            #expect(buffer.window == 0)
            #expect(buffer.write([16], at: 0) == 0)
            #expect(buffer.read(10) == Array(1...10))

            #expect(buffer.write(Array(19...23), at: 8) == 0)      // 2 fit, 3 beyond
            #expect(buffer.blocks == [range(8, 10)])
            #expect(buffer.outOfOrderBytes == 2)
            #expect(buffer.write([1], at: 10) == 0)                // wholly beyond
            #expect(buffer.write([1], at: Int.max) == 0)
            #expect(buffer.blocks == [range(8, 10)])
            #expect(buffer.write(Array(11...18), at: 0) == 10)
            #expect(buffer.read(10) == Array(11...20))
        }
    }

    @Test func trimsBeforeRcvNxt() {
        withChunk(16) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            _ = buffer.write(Array(1...4), at: 0)
            #expect(buffer.write(Array(1...8), at: -4) == 4)       // first half old
            #expect(buffer.write(Array(1...8), at: -8) == 0)       // all old
            #expect(buffer.write([], at: 0) == 0)
            #expect(buffer.write([], at: 3) == 0)
            #expect(!buffer.hasOutOfOrderData)
            #expect(buffer.read(16) == Array(1...8))
        }
    }

    // MARK: Range limit

    @Test func refusesARangeBeyondTheLimit() {
        withChunk(2 * ReceiveBuffer.maxRanges + 80) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            for index in 0..<ReceiveBuffer.maxRanges {
                #expect(buffer.write([UInt8(index)], at: 2 + 2 * index) == 0)
            }
            #expect(buffer.blocks.count == ReceiveBuffer.maxRanges)
            let beyond = 2 * ReceiveBuffer.maxRanges + 4
            #expect(buffer.write([99], at: beyond) == 0)          // would be one range too many
            #expect(buffer.refusedSegments == 1)
            #expect(buffer.outOfOrderBytes == ReceiveBuffer.maxRanges)
            #expect(buffer.write([98], at: beyond + 4) == 0)      // and another
            #expect(buffer.refusedSegments == 2)
            #expect(buffer.write([7], at: 3) == 0)                // grows one: still accepted
            #expect(buffer.write([7], at: 2) == 0)                // duplicate: still accepted
            #expect(buffer.refusedSegments == 2)
            #expect(buffer.blocks.count == ReceiveBuffer.maxRanges - 1)
            #expect(buffer.write([99], at: beyond) == 0)          // a range was freed by the merge
            #expect(buffer.refusedSegments == 2)
            #expect(buffer.blocks.count == ReceiveBuffer.maxRanges)
            #expect(buffer.write([0, 0], at: 0) == 5)             // [0, 2) joins [2, 5); [6, 7) stays apart
            #expect(buffer.blocks.count == ReceiveBuffer.maxRanges - 1)
            #expect(buffer.blocks.first == range(1, 2))
        }
    }

    // MARK: SACK

    /// RFC 2018 §5, case 3: of eight 500-byte segments from 5000, the 2nd, 4th, 6th
    /// and 8th are lost; then the 4th arrives late.
    @Test func sackBlocksFollowRFC2018() {
        withChunk(8192) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            var rcvNxt: UInt32 = 5000
            let segment = [UInt8](repeating: 0x55, count: 500)
            func deliver(_ sequence: UInt32) -> [SACKBlock] {
                rcvNxt &+= UInt32(buffer.write(segment, at: Int(sequence &- rcvNxt)))
                return Array(buffer.sackBlockList(limit: 4, receiveNext: rcvNxt))
            }
            #expect(deliver(5000) == [])
            #expect(rcvNxt == 5500)
            #expect(deliver(6000) == [SACKBlock(left: 6000, right: 6500)])
            #expect(deliver(7000) == [SACKBlock(left: 7000, right: 7500), SACKBlock(left: 6000, right: 6500)])
            #expect(deliver(8000) == [SACKBlock(left: 8000, right: 8500), SACKBlock(left: 7000, right: 7500),
                                      SACKBlock(left: 6000, right: 6500)])
            #expect(deliver(6500) == [SACKBlock(left: 6000, right: 7500), SACKBlock(left: 8000, right: 8500)])
            #expect(rcvNxt == 5500)
            #expect(deliver(5500) == [SACKBlock(left: 8000, right: 8500)])
            #expect(rcvNxt == 7500)
        }
    }

    @Test func sackBlocksAreTheFourMostRecentlyUpdatedOfMany() {
        withChunk(2000) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            let one = [UInt8](repeating: 1, count: 10)
            for index in 1...6 { _ = buffer.write(one, at: index * 100) }
            _ = buffer.write(one, at: 205)                        // extends the second range
            #expect(Array(buffer.sackBlocks(limit: 4)) == [range(200, 215), range(600, 610), range(500, 510),
                                                         range(400, 410)])
            #expect(buffer.range(holding: 102, count: 5) == range(100, 110))
            #expect(buffer.range(holding: 108, count: 5) == nil, "only part of it held")
        }
    }

    @Test func sackBlocksMostRecentFirstWithALimit() {
        withChunk(1000) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            let one = [UInt8](repeating: 1, count: 10)
            _ = buffer.write(one, at: 100)
            _ = buffer.write(one, at: 300)
            _ = buffer.write(one, at: 200)
            _ = buffer.write(one, at: 400)
            #expect(Array(buffer.sackBlocks(limit: 3)) == [range(400, 410), range(200, 210), range(300, 310)])
            _ = buffer.write(one, at: 102)                        // duplicate inside: still "most recent"
            #expect(Array(buffer.sackBlocks(limit: 2)) == [range(100, 112), range(400, 410)])
            #expect(buffer.sackBlocks(limit: 0).isEmpty)
            #expect(buffer.sackBlocks(limit: 100).count == 4)
            // The list for TCPOptions caps at four blocks and wraps sequence numbers.
            let list = buffer.sackBlockList(limit: 9, receiveNext: UInt32.max - 150)
            #expect(list.count == 4)
            #expect(list.first == SACKBlock(left: UInt32.max - 50, right: UInt32.max - 38))
            #expect(list[1] == SACKBlock(left: 249, right: 259))
        }
    }

    /// Where a write's range stands in the SACK order before the write: what the
    /// connection asks to know whether one ACK for a burst would hide a range.
    @Test func sackRecencyRankOfAWrite() {
        withChunk(1000) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            let one = [UInt8](repeating: 1, count: 10)
            #expect(buffer.sackRecencyRank(ofWriteAt: 100, count: 10) == 0, "the first range")
            _ = buffer.write(one, at: 100)
            _ = buffer.write(one, at: 300)
            _ = buffer.write(one, at: 200)
            #expect(buffer.sackRecencyRank(ofWriteAt: 210, count: 5) == 0, "extends the most recent")
            #expect(buffer.sackRecencyRank(ofWriteAt: 290, count: 10) == 1, "touches the second")
            #expect(buffer.sackRecencyRank(ofWriteAt: 95, count: 5) == 2, "touches the oldest")
            #expect(buffer.sackRecencyRank(ofWriteAt: 105, count: 100) == 0, "joins the oldest to the most recent")
            #expect(buffer.sackRecencyRank(ofWriteAt: 500, count: 10) == 3, "a range of its own")
            #expect(buffer.sackRecencyRank(ofWriteAt: 0, count: 10) == 0, "in order")
            #expect(buffer.sackRecencyRank(ofWriteAt: 1000, count: 10) == 0, "beyond the window")
            #expect(buffer.outOfOrderRanges == 3, "nothing written")
        }
        withChunk(1000) { chunk in
            var buffer = ReceiveBuffer(storage: chunk)
            for index in 1...ReceiveBuffer.maxRanges { _ = buffer.write([1], at: 2 * index) }
            #expect(buffer.sackRecencyRank(ofWriteAt: 500, count: 1) == 0, "a range beyond the limit is refused")
            #expect(buffer.sackRecencyRank(ofWriteAt: 3, count: 1) == ReceiveBuffer.maxRanges - 2, "joins the two oldest")
        }
    }

    // MARK: Random

    /// A random byte stream, cut into random segments that arrive in random order
    /// with duplicates, losses and retransmissions of old data, read in random-sized
    /// pieces through both reading interfaces, comes out exactly as sent.
    @Test func randomStreamReassembles() {
        var random = SeededRandom(seed: 0xB0FF_E125)
        var failures = 0
        var refused = 0
        for _ in 0..<30 {
            let length = Int.random(in: 1...6000, using: &random)
            let stream = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let capacity = Int.random(in: 16...4000, using: &random)
            // Small segments leave many holes, enough to hit the range limit.
            let longestSegment = [4, 8, 40, 300].randomElement(using: &random)!
            withChunk(capacity) { chunk in
                var buffer = ReceiveBuffer(storage: chunk)
                var next = 0
                var output: [UInt8] = []
                var rounds = 0
                while output.count < length && rounds < 10_000 {
                    rounds += 1
                    // The sender (re)sends from a little before RCV.NXT to a little past the window.
                    let from = max(0, next - Int.random(in: 0...40, using: &random))
                    let to = min(length, next + buffer.window + Int.random(in: 0...40, using: &random))
                    var segments: [Range<Int>] = []
                    var cut = from
                    while cut < to {
                        let end = min(to, cut + Int.random(in: 1...longestSegment, using: &random))
                        segments.append(cut..<end)
                        cut = end
                    }
                    for _ in 0..<Int.random(in: 0...3, using: &random) where !segments.isEmpty {
                        segments.append(segments.randomElement(using: &random)!)
                    }
                    segments.shuffle(using: &random)
                    for segment in segments where !random.chance(0.15) {
                        next += buffer.write(stream, segment, next: next)
                    }
                    if !invariantsHold(buffer) { failures += 1 }
                    // The application reads a random amount, copying or in place.
                    for _ in 0..<Int.random(in: 0...2, using: &random) {
                        let want = Int.random(in: 1...capacity, using: &random)
                        if random.chance(0.5) {
                            output += buffer.read(want)
                        } else {
                            let bytes = buffer.regionBytes.prefix(want)
                            output += bytes
                            buffer.consume(bytes.count)
                        }
                    }
                    if output.count + buffer.readable != next { failures += 1 }
                }
                if output != stream { failures += 1 }
                refused += buffer.refusedSegments
            }
        }
        #expect(failures == 0)
        #expect(refused > 0, "the range limit was never exercised")
    }
}

/// SACK blocks are disjoint, not touching, inside the window, and add up to the
/// out-of-order bytes; in-order plus out-of-order bytes fit the buffer.
private func invariantsHold(_ buffer: ReceiveBuffer) -> Bool {
    var buffer = buffer
    let blocks = buffer.blocks.sorted { $0.start < $1.start }
    var previousEnd = 0
    for block in blocks {
        guard block.start > previousEnd, block.end > block.start, block.end <= buffer.window else { return false }
        previousEnd = block.end
    }
    return blocks.map(\.count).reduce(0, +) == buffer.outOfOrderBytes
        && buffer.readable + buffer.outOfOrderBytes <= buffer.capacity
        && buffer.hasOutOfOrderData == !blocks.isEmpty
}

/// All orderings of `elements` (Heap's algorithm).
private func permutations(of elements: [Int]) -> [[Int]] {
    var result: [[Int]] = []
    var items = elements
    func generate(_ k: Int) {
        if k <= 1 { result.append(items); return }
        for index in 0..<k {
            generate(k - 1)
            items.swapAt(k % 2 == 0 ? index : 0, k - 1)
        }
    }
    generate(items.count)
    return result
}
