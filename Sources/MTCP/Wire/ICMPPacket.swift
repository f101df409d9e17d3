/// A zero-copy view of an ICMP message (RFC 792): type, code, checksum, the four
/// bytes of "rest of header", and the data after them.
///
/// The buffer is the IPv4 payload, so the message ends where the datagram does and
/// the checksum covers exactly the buffer.
public struct ICMPPacket {
    /// Type, code, checksum and the four type-specific bytes every message has.
    public static let headerLength = 8

    /// The message, type first.
    public let bytes: UnsafeMutableRawBufferPointer

    /// Wraps `bytes` after checking that the 8-byte header fits. Any type is accepted;
    /// `ICMPEchoRepr` is where unsupported messages are refused.
    @inlinable
    public init(checking bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        self.bytes = bytes
    }

    /// Wraps `bytes` unchecked, to write a new message into; the buffer must hold at
    /// least the header and is checksummed whole.
    @inlinable
    public init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable public var messageType: ICMPType {
        get { ICMPType(rawValue: bytes[0]) }
        nonmutating set { bytes[0] = newValue.rawValue }
    }

    @inlinable public var code: UInt8 {
        get { bytes[1] }
        nonmutating set { bytes[1] = newValue }
    }

    @inlinable public var checksum: UInt16 {
        get { bytes.bigEndian(at: 2) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 2) }
    }

    /// Echo request/reply: the identifier (first half of "rest of header").
    @inlinable public var identifier: UInt16 {
        get { bytes.bigEndian(at: 4) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 4) }
    }

    /// Echo request/reply: the sequence number (second half of "rest of header").
    @inlinable public var sequenceNumber: UInt16 {
        get { bytes.bigEndian(at: 6) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 6) }
    }

    /// The data after the 8-byte header (echo data, or the quoted datagram of an error).
    @inlinable public var data: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: Self.headerLength, to: bytes.count)
    }

    /// Whether the checksum over the whole message is correct.
    @inlinable public func verifyChecksum() -> Bool {
        bytes.hasValidChecksum()
    }

    /// Computes the checksum over the whole message and stores it; call after the
    /// data is in place.
    @inlinable public func fillChecksum() {
        bytes.fillChecksum(at: 2)
    }
}
