/// One block of a TCP SACK option (RFC 2018 §3): the sequence numbers of the first
/// byte received and of the byte just after the last, as on the wire.
public struct SACKBlock: Hashable, Sendable {
    public var left: UInt32
    public var right: UInt32

    @inlinable public init(left: UInt32, right: UInt32) {
        self.left = left
        self.right = right
    }
}
