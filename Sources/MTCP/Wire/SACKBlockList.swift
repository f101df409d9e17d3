/// Up to four SACK blocks held inline, so that `TCPOptions` stays a plain value that
/// never touches the heap on the per-packet path.
///
/// Four is what fits in the 40-byte options area (RFC 2018 §3); with timestamps only
/// three fit, and `TCPOptions` emits as many as there is room for.
public struct SACKBlockList: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral {
    /// Blocks the list holds at most.
    public static let capacity = 4

    @usableFromInline var storage = InlineArray<4, SACKBlock>(repeating: SACKBlock(left: 0, right: 0))
    public private(set) var count = 0

    @inlinable public init() {}

    /// A list of at most `capacity` blocks.
    public init(arrayLiteral blocks: SACKBlock...) {
        for block in blocks { append(block) }
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable public subscript(position: Int) -> SACKBlock {
        precondition(position >= 0 && position < count, "SACK block index out of range")
        return storage[position]
    }

    /// Appends a block; the list must not be full (`count < capacity`).
    public mutating func append(_ block: SACKBlock) {
        precondition(count < Self.capacity, "more than four SACK blocks")
        storage[count] = block
        count += 1
    }

    public static func == (lhs: SACKBlockList, rhs: SACKBlockList) -> Bool {
        lhs.elementsEqual(rhs)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for block in self { hasher.combine(block) }
    }
}
