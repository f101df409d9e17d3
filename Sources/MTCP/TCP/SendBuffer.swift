/// The bytes of one connection that the application has written and the peer has
/// not yet acknowledged, oldest (the byte at SND.UNA) first.
///
/// A ring over one chunk of a `BufferChunkPool`: a plain struct of a pointer and
/// three integers, so it lives inside the connection's control block with no class,
/// no reference counting and no allocation. Bytes not yet sent and bytes sent but
/// unacknowledged are one contiguous run; the connection knows how many it has sent
/// (SND.NXT - SND.UNA) and builds segments with `copy(from:count:into:)`, which also
/// serves retransmissions from offset 0. The buffer does not own its chunk: whoever
/// took it from the pool gives `storage` back when the connection is freed.
public struct SendBuffer {
    /// The chunk the ring lives in (empty for a buffer without storage).
    public private(set) var storage: UnsafeMutableRawBufferPointer
    /// Ring index of the oldest byte.
    private var head = 0
    /// Bytes held: unacknowledged plus not yet sent.
    public private(set) var count = 0

    /// A buffer with no storage (capacity 0), for a control block not in use.
    @inline(__always)
    public init() { storage = UnsafeMutableRawBufferPointer(start: nil, count: 0) }

    /// An empty buffer over `storage`, typically a chunk from `BufferChunkPool.take()`.
    @inline(__always)
    public init(storage: UnsafeMutableRawBufferPointer) { self.storage = storage }

    /// Empties the buffer and moves it onto `storage` (a new connection).
    @inline(__always)
    public mutating func reset(storage: UnsafeMutableRawBufferPointer) {
        self.storage = storage
        head = 0
        count = 0
    }

    /// Bytes the buffer can hold.
    @inline(__always) public var capacity: Int { storage.count }
    /// Bytes the application can still write.
    @inline(__always) public var free: Int { storage.count - count }
    @inline(__always) public var isEmpty: Bool { count == 0 }

    /// Copies as much of `bytes` as fits after the newest byte; returns how much.
    /// A short count is the application's back-pressure (the socket is not writable).
    @discardableResult
    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        append(upTo: bytes.count) { first, second in
            let source = bytes.baseAddress.unsafelyUnwrapped
            first.baseAddress.unsafelyUnwrapped.copyMemory(from: source, byteCount: first.count)
            if !second.isEmpty {
                second.baseAddress.unsafelyUnwrapped.copyMemory(from: source + first.count, byteCount: second.count)
            }
            return first.count + second.count
        }
    }

    /// Lets `produce` write up to `limit` bytes after the newest byte, in place
    /// (a file read straight into the buffer, with no copy through the
    /// application): it gets the free room as one or two runs, the second from
    /// the start of the ring, fills them in order and returns how many bytes it
    /// wrote, which become part of the buffer. Nothing is called without room.
    @inline(__always)
    public mutating func append(upTo limit: Int,
                                producingWith produce: (_ first: UnsafeMutableRawBufferPointer,
                                                        _ second: UnsafeMutableRawBufferPointer) -> Int) -> Int {
        let n = min(limit, free)
        guard n > 0 else { return 0 }
        let base = storage.baseAddress.unsafelyUnwrapped
        let tail = wrap(head + count)
        let first = min(n, capacity - tail)
        let produced = produce(UnsafeMutableRawBufferPointer(start: base + tail, count: first),
                               UnsafeMutableRawBufferPointer(start: base, count: n - first))
        precondition(produced >= 0 && produced <= n, "produced a count outside 0...room")
        count += produced
        return produced
    }

    /// Copies `count` bytes starting `offset` bytes after the oldest one into
    /// `destination` (a segment's payload), in at most two copies.
    public func copy(from offset: Int, count: Int, into destination: UnsafeMutableRawPointer) {
        precondition(offset >= 0 && count >= 0 && offset <= self.count - count, "range beyond the buffered bytes")
        guard count > 0 else { return }
        let base = UnsafeRawPointer(storage.baseAddress.unsafelyUnwrapped)
        let start = wrap(head + offset)
        let first = min(count, capacity - start)
        destination.copyMemory(from: base + start, byteCount: first)
        if first < count {
            (destination + first).copyMemory(from: base, byteCount: count - first)
        }
    }

    /// Drops the `n` oldest bytes, which the peer has acknowledged (SND.UNA advanced by `n`).
    @inline(__always)
    public mutating func acknowledge(_ n: Int) {
        precondition(n >= 0 && n <= count, "acknowledging more than was buffered")
        count -= n
        // An empty ring restarts at index 0, so the next write and the segments cut
        // from it are contiguous (one copy each) for as long as they fit.
        head = count == 0 ? 0 : wrap(head + n)
    }

    /// `index` reduced into 0..<capacity, for an `index` below 2 * capacity: one
    /// compare instead of a division, since chunk sizes need not be powers of two.
    @inline(__always)
    private func wrap(_ index: Int) -> Int {
        index >= capacity ? index - capacity : index
    }
}
