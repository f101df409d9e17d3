/// The chunk a send or receive ring lives in, lent by its engine's
/// `BufferChunkPool` only while the ring holds bytes, and the capacity the
/// buffer keeps with or without it (what it advertises or lets the
/// application write).
///
/// The engine attaches a chunk before bytes come and detaches it when the
/// buffer says its ring is empty (`SendBuffer.chunkCanGoBack`,
/// `ReceiveBuffer.chunkCanGoBack`; `detach` itself does not check). Both
/// rings restart at index 0 whenever they hold no bytes (in order or, for
/// the receive ring, out of order), so a chunk attached anew needs nothing
/// else set.
public struct LentChunk {
    /// The chunk, empty while none is attached.
    public private(set) var storage: UnsafeMutableRawBufferPointer
    /// Bytes the buffer can hold (SO_SNDBUF or SO_RCVBUF).
    public let capacity: Int

    /// A buffer of `capacity` bytes over `storage`, or without a chunk while
    /// `storage` is empty.
    @inline(__always)
    public init(capacity: Int, storage: UnsafeMutableRawBufferPointer = UnsafeMutableRawBufferPointer(start: nil, count: 0)) {
        precondition(storage.baseAddress == nil || storage.count == capacity, "a chunk of another size")
        self.capacity = capacity
        self.storage = storage
    }

    @inline(__always) public var isAttached: Bool { storage.baseAddress != nil }

    /// Puts the ring on `chunk`, a chunk of `capacity` bytes.
    @inline(__always)
    public mutating func attach(_ chunk: UnsafeMutableRawBufferPointer) {
        precondition(!isAttached && chunk.count == capacity, "a chunk attached twice, or of another size")
        storage = chunk
    }

    /// Takes the chunk off, for its pool.
    @inline(__always)
    public mutating func detach() -> UnsafeMutableRawBufferPointer {
        precondition(isAttached, "no chunk to detach")
        defer { storage = UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return storage
    }
}
