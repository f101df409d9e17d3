/// Fixed-size byte chunks for the per-connection send and receive buffers of one
/// engine (mTCP's `sndbuf`/`rcvbuf` chunks, `max_num_buffers` of them per core).
///
/// All chunks live in one allocation made at start-up, so opening a connection
/// never calls the allocator and an exhausted pool is a clean refusal (no
/// chunk left to reserve) rather than unbounded growth. Free chunks are a stack of indices:
/// the chunk given back last is taken next, while its lines may still be cached.
///
/// A connection reserves its chunk when it opens (`reserve()`; refused when
/// every chunk is promised) and takes it only while its buffer holds bytes: a
/// reserved chunk is always there to take, and a few chunks, hot in the cache,
/// serve many mostly idle connections in turn.
/// A bit per chunk records which chunks are free, so giving one back twice (or
/// giving back something else) traps at once instead of handing the same memory
/// to two connections later.
public struct BufferChunkPool: ~Copyable {
    /// Bytes in each chunk.
    public let chunkSize: Int
    /// Chunks the pool owns.
    public let count: Int
    /// Chunks that `take()` can still hand out.
    public private(set) var available: Int
    /// Chunks promised by `reserve()`, taken or not.
    public private(set) var reserved = 0

    /// Distance between chunk starts: `chunkSize` rounded up to a cache line, so
    /// that two connections' buffers never share a line.
    private let stride: Int
    private let memory: UnsafeMutableRawPointer
    /// `count` indices; the top `available` of them (at 0..<available) are free.
    private let freeStack: UnsafeMutablePointer<UInt32>
    /// One bit per chunk, set while the chunk is free.
    private let freeBits: UnsafeMutablePointer<UInt64>

    static let alignment = 64

    /// - Parameters:
    ///   - count: chunks to allocate (the per-core buffer limit).
    ///   - chunkSize: bytes per chunk (the send or receive buffer size).
    public init(count: Int, chunkSize: Int) {
        precondition(count >= 0 && count <= Int(UInt32.max), "chunk count out of range")
        precondition(chunkSize > 0, "chunk size must be positive")
        self.count = count
        self.chunkSize = chunkSize
        stride = (chunkSize + Self.alignment - 1) & ~(Self.alignment - 1)
        let byteCount = count.multipliedReportingOverflow(by: stride)
        precondition(!byteCount.overflow, "pool too large")
        memory = .allocate(byteCount: max(byteCount.partialValue, 1), alignment: Self.alignment)
        // Touch every page now, at start-up, rather than taking page faults in the
        // middle of the data path the first time each chunk is written.
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount.partialValue)

        freeStack = .allocate(capacity: max(count, 1))
        // Reversed, so that the first `take()` returns chunk 0, then 1, ...
        for index in 0..<count { freeStack[index] = UInt32(count - 1 - index) }
        let words = (count + 63) / 64
        freeBits = .allocate(capacity: max(words, 1))
        freeBits.initialize(repeating: 0, count: max(words, 1))
        for word in 0..<words {
            let bitsInWord = min(64, count - word * 64)
            freeBits[word] = bitsInWord == 64 ? ~0 : (1 << UInt64(bitsInWord)) - 1
        }
        available = count
    }

    deinit {
        memory.deallocate()
        freeStack.deallocate()
        freeBits.deallocate()
    }

    /// Whether a chunk is left to promise (else the caller refuses the connection).
    @inline(__always) public var canReserve: Bool { reserved < count }

    /// Promises one chunk to the caller (`canReserve` must hold). Taking no more
    /// chunks than it reserved, it always finds one.
    @inline(__always)
    public mutating func reserve() {
        precondition(canReserve, "every chunk is promised")
        reserved += 1
    }

    /// Ends a promise of `reserve()` (its chunk given back, if it was taken).
    @inline(__always)
    public mutating func cancelReservation() {
        precondition(reserved > 0, "no chunk reserved")
        reserved -= 1
    }

    /// A free chunk of `chunkSize` bytes, or nil when all are in use (never for
    /// a caller within its reservations). The chunk's contents are whatever was
    /// left in it.
    @inline(__always)
    public mutating func take() -> UnsafeMutableRawBufferPointer? {
        guard available > 0 else { return nil }
        available -= 1
        let index = Int(freeStack[available])
        freeBits[index >> 6] &= ~(1 << UInt64(index & 63))
        return UnsafeMutableRawBufferPointer(start: memory + index * stride, count: chunkSize)
    }

    /// Returns `chunk`, which must have come from this pool's `take()` and not have
    /// been given back since.
    @inline(__always)
    public mutating func give(_ chunk: UnsafeMutableRawBufferPointer) {
        let index = self.index(of: chunk)
        let bit: UInt64 = 1 << UInt64(index & 63)
        precondition(freeBits[index >> 6] & bit == 0, "chunk given back twice")
        freeBits[index >> 6] |= bit
        freeStack[available] = UInt32(index)
        available += 1
    }

    /// True when `chunk` is one of this pool's chunks (free or not).
    public func owns(_ chunk: UnsafeMutableRawBufferPointer) -> Bool {
        guard let start = chunk.baseAddress, chunk.count == chunkSize, count > 0 else { return false }
        let offset = start - memory
        return offset >= 0 && offset < count * stride && offset % stride == 0
    }

    /// True when `chunk` (one of this pool's) is currently free.
    public func isFree(_ chunk: UnsafeMutableRawBufferPointer) -> Bool {
        let index = self.index(of: chunk)
        return freeBits[index >> 6] & (1 << UInt64(index & 63)) != 0
    }

    @inline(__always)
    private func index(of chunk: UnsafeMutableRawBufferPointer) -> Int {
        precondition(owns(chunk), "chunk of another pool")
        return (chunk.baseAddress.unsafelyUnwrapped - memory) / stride
    }
}
