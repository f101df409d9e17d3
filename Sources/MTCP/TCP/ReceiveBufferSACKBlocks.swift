/// The SACK blocks a `ReceiveBuffer` reports, most recent first, held inline so
/// that building an ACK never touches the heap.
///
/// Offsets are relative to RCV.NXT; `ReceiveBuffer.sackBlockList(limit:receiveNext:)`
/// turns them into sequence numbers for `TCPOptions`.
public struct ReceiveBufferSACKBlocks: RandomAccessCollection, Sendable {
    /// Blocks a SACK option holds at most (RFC 2018 §3: four in 40 bytes of options).
    public static var capacity: Int { Storage.count }
    @usableFromInline typealias Storage = InlineArray<4, ReceiveBufferRange>
    @usableFromInline var storage = Storage(repeating: ReceiveBufferRange(start: 0, end: 0))
    public private(set) var count = 0

    @inlinable public init() {}

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable public subscript(position: Int) -> ReceiveBufferRange {
        precondition(position >= 0 && position < count, "SACK block index out of range")
        return storage[position]
    }

    @inline(__always)
    mutating func append(_ range: ReceiveBufferRange) {
        storage[count] = range
        count += 1
    }
}
