/// A run of out-of-order bytes held by a `ReceiveBuffer`, as offsets relative to
/// RCV.NXT: `start` (first byte) up to but not including `end`. Always
/// `0 < start < end`: a range starting at RCV.NXT would be in-order data.
public struct ReceiveBufferRange: Hashable, Sendable {
    public var start: Int
    public var end: Int

    @inline(__always)
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// Bytes in the range.
    @inline(__always) public var count: Int { end - start }
}
