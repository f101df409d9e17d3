/// A zero-copy view of an IPv6 packet (RFC 8200 §3): the fixed 40-byte header
/// and what follows it up to the payload length (extension headers included;
/// `IPv6HeaderChain` walks them).
///
/// As with `IPv4Packet`, the buffer may be longer than the packet (Ethernet
/// padding), so `payload` ends at the payload length, not at the buffer's end.
/// IPv6 has no header checksum: the upper layers' pseudo-header covers the addresses.
public struct IPv6Packet {
    public static let headerLength = 40

    /// The packet, header first, possibly followed by link-layer padding.
    public let bytes: UnsafeMutableRawBufferPointer

    /// Wraps `bytes` after checking the version and that the payload length fits
    /// the buffer, so that no accessor can reach outside it. A jumbogram (payload
    /// length 0 with a Hop-by-Hop jumbo option, RFC 2675) does not fit an
    /// Ethernet frame and is refused as a bad length.
    @inlinable
    public init(checking bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        self.bytes = bytes
        guard version == 6 else { throw .badVersion }
        guard Self.headerLength + Int(payloadLength) <= bytes.count else { throw .truncated }
    }

    /// Wraps `bytes` unchecked, to write a new packet into; the buffer must hold
    /// at least the header.
    @inlinable
    public init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 {
        get { bytes.bits(at: 0, mask: 0xF0) }
        nonmutating set { bytes.storeBits(newValue, at: 0, mask: UInt8(0xF0)) }
    }

    /// DSCP and ECN, as in IPv4's old type-of-service byte.
    @inlinable public var trafficClass: UInt8 {
        get { UInt8(truncatingIfNeeded: bytes.bits(at: 0, mask: UInt32(0x0FF0_0000))) }
        nonmutating set { bytes.storeBits(UInt32(newValue), at: 0, mask: UInt32(0x0FF0_0000)) }
    }

    @inlinable public var flowLabel: UInt32 {
        get { bytes.bits(at: 0, mask: UInt32(0x000F_FFFF)) }
        nonmutating set { bytes.storeBits(newValue, at: 0, mask: UInt32(0x000F_FFFF)) }
    }

    /// Length of everything after the fixed header, extension headers included.
    @inlinable public var payloadLength: UInt16 {
        get { bytes.bigEndian(at: 4) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 4) }
    }

    /// The type of the header after the fixed one: an extension header or the
    /// upper-layer protocol.
    @inlinable public var nextHeader: IPProtocol {
        get { IPProtocol(rawValue: bytes[6]) }
        nonmutating set { bytes[6] = newValue.rawValue }
    }

    @inlinable public var hopLimit: UInt8 {
        get { bytes[7] }
        nonmutating set { bytes[7] = newValue }
    }

    @inlinable public var source: IPv6Address {
        get { bytes.ipv6Address(at: 8) }
        nonmutating set { bytes.storeIPv6Address(newValue, at: 8) }
    }

    @inlinable public var destination: IPv6Address {
        get { bytes.ipv6Address(at: 24) }
        nonmutating set { bytes.storeIPv6Address(newValue, at: 24) }
    }

    /// The data after the fixed header, up to the payload length (padding excluded).
    @inlinable public var payload: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: Self.headerLength, to: Self.headerLength + Int(payloadLength))
    }

    /// The packet itself, fixed header to the end of the payload (padding excluded).
    @inlinable public var packet: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: 0, to: Self.headerLength + Int(payloadLength))
    }
}
