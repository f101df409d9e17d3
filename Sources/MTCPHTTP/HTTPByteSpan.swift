/// A range of byte offsets into a buffer that the caller owns.
///
/// The parsers never copy what they find: they report where it is. Offsets are kept
/// as `UInt32` so that the per-connection parser state stays small (several spans
/// live in every connection's `HTTPRequestParser`); buffers are therefore limited to
/// 4 GiB, far beyond any head or chunk the limits allow.
public struct HTTPByteSpan: Hashable, Sendable {
    @usableFromInline var lower: UInt32
    @usableFromInline var upper: UInt32

    /// The span `start..<end`; `start <= end <= UInt32.max` is required.
    @inlinable
    public init(start: Int, end: Int) {
        precondition(start >= 0 && start <= end && end <= Int(UInt32.max), "invalid byte span")
        lower = UInt32(truncatingIfNeeded: start)
        upper = UInt32(truncatingIfNeeded: end)
    }

    /// The empty span at offset 0.
    public static let empty = HTTPByteSpan(start: 0, end: 0)

    /// Offset of the first byte.
    @inlinable public var start: Int { Int(lower) }
    /// Offset one past the last byte.
    @inlinable public var end: Int { Int(upper) }
    /// Number of bytes.
    @inlinable public var count: Int { Int(upper &- lower) }
    /// Whether the span holds no byte.
    @inlinable public var isEmpty: Bool { lower == upper }

    /// The same span moved by `delta` bytes, for callers that hand a parser a slice
    /// of a larger buffer and want offsets into the larger one.
    @inlinable
    public func shifted(by delta: Int) -> HTTPByteSpan { HTTPByteSpan(start: start + delta, end: end + delta) }

    /// The bytes of this span in `buffer` (the buffer the span was found in).
    @inlinable
    public func bytes(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[start..<end])
    }
}
