import Testing
@testable import MTCP

// `#expect` cannot take a ~Copyable pool apart, so each check reads the value first.
@Suite struct BufferChunkPoolTests {
    @Test func handsOutDistinctAlignedChunksUntilEmpty() {
        var pool = BufferChunkPool(count: 5, chunkSize: 100)
        let (count, chunkSize, initiallyAvailable) = (pool.count, pool.chunkSize, pool.available)
        #expect(count == 5)
        #expect(chunkSize == 100)
        #expect(initiallyAvailable == 5)
        var chunks: [UnsafeMutableRawBufferPointer] = []
        while let chunk = pool.take() { chunks.append(chunk) }
        let (available, extra) = (pool.available, pool.take())
        #expect(chunks.count == 5)
        #expect(available == 0)
        #expect(extra == nil)
        for chunk in chunks {
            let (owned, free) = (pool.owns(chunk), pool.isFree(chunk))
            #expect(chunk.count == 100)
            #expect(UInt(bitPattern: chunk.baseAddress) % 64 == 0)
            #expect(owned)
            #expect(!free)
        }
        // Chunks do not overlap: fill each with its own byte, then check them all.
        for (index, chunk) in chunks.enumerated() { chunk.initializeMemory(as: UInt8.self, repeating: UInt8(index)) }
        for (index, chunk) in chunks.enumerated() { #expect(chunk.allSatisfy { $0 == UInt8(index) }) }
        for chunk in chunks { pool.give(chunk) }
        let availableAfter = pool.available
        #expect(availableAfter == 5)
    }

    @Test func reusesTheChunkGivenBackLast() {
        var pool = BufferChunkPool(count: 3, chunkSize: 64)
        let first = pool.take()!
        let second = pool.take()!
        pool.give(first)
        let (free, available) = (pool.isFree(first), pool.available)
        #expect(free)
        #expect(available == 2)
        let again = pool.take()
        #expect(again?.baseAddress == first.baseAddress)
        pool.give(second)
        pool.give(first)
        let availableAfter = pool.available
        #expect(availableAfter == 3)
    }

    @Test func recognisesForeignChunks() {
        var pool = BufferChunkPool(count: 2, chunkSize: 96)
        let chunk = pool.take()!
        let other = UnsafeMutableRawBufferPointer.allocate(byteCount: 96, alignment: 64)
        defer { other.deallocate() }
        let foreign = pool.owns(other)
        let misaligned = pool.owns(UnsafeMutableRawBufferPointer(rebasing: chunk[1...]))
        let short = pool.owns(UnsafeMutableRawBufferPointer(rebasing: chunk[..<50]))
        #expect(!foreign)
        #expect(!misaligned)
        #expect(!short)
    }

    @Test func emptyPoolRefusesCleanly() {
        var pool = BufferChunkPool(count: 0, chunkSize: 4096)
        let (available, chunk) = (pool.available, pool.take())
        #expect(available == 0)
        #expect(chunk == nil)
    }

    @Test func moreThanOneWordOfFreeBits() {
        var pool = BufferChunkPool(count: 130, chunkSize: 8)
        var chunks: [UnsafeMutableRawBufferPointer] = []
        while let chunk = pool.take() { chunks.append(chunk) }
        #expect(chunks.count == 130)
        #expect(Set(chunks.map(\.baseAddress)).count == 130)
        for chunk in chunks.reversed() { pool.give(chunk) }
        let available = pool.available
        #expect(available == 130)
    }

    @Test func doubleGiveTraps() async {
        await #expect(processExitsWith: .failure) {
            var pool = BufferChunkPool(count: 2, chunkSize: 64)
            let chunk = pool.take()!
            pool.give(chunk)
            pool.give(chunk)
        }
    }

    @Test func givingAForeignChunkTraps() async {
        await #expect(processExitsWith: .failure) {
            var pool = BufferChunkPool(count: 2, chunkSize: 64)
            let other = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 64)
            pool.give(other)
        }
    }
}
