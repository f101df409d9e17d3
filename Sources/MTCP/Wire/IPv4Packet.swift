/// A zero-copy view of an IPv4 datagram (RFC 791): header fields, options, payload.
///
/// The buffer is usually an Ethernet frame's payload and may be longer than the
/// datagram (Ethernet pads frames to 60 bytes), so `payload` ends at the total
/// length, not at the buffer's end. The header checksum is verified separately, by
/// `verifyChecksum()`, because a NIC with receive offload may have done it already.
public struct IPv4Packet {
    /// Size of a header without options.
    public static let minimumHeaderLength = 20

    /// The datagram, header first, possibly followed by link-layer padding.
    public let bytes: UnsafeMutableRawBufferPointer

    /// Wraps `bytes` after checking that version, header length and total length are
    /// consistent with each other and with the buffer, so that no accessor (options,
    /// payload, checksum) can reach outside it.
    @inlinable
    public init(checking bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.minimumHeaderLength else { throw .truncated }
        self.bytes = bytes
        guard version == 4 else { throw .badVersion }
        guard headerLength >= Self.minimumHeaderLength else { throw .badHeaderLength }
        guard headerLength <= bytes.count else { throw .truncated }
        guard Int(totalLength) >= headerLength else { throw .badTotalLength }
        guard Int(totalLength) <= bytes.count else { throw .truncated }
    }

    /// Wraps `bytes` unchecked, to write a new datagram into; the buffer must hold at
    /// least the header.
    @inlinable
    public init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 {
        get { bytes.bits(at: 0, mask: 0xF0) }
        nonmutating set { bytes.storeBits(newValue, at: 0, mask: UInt8(0xF0)) }
    }

    /// Header length in bytes, options included (the IHL field times four).
    @inlinable public var headerLength: Int {
        get { Int(bytes.bits(at: 0, mask: UInt8(0x0F))) &* 4 }
        nonmutating set { bytes.storeBits(UInt8(truncatingIfNeeded: newValue / 4), at: 0, mask: UInt8(0x0F)) }
    }

    /// Differentiated Services code point (RFC 2474), the upper six bits of the old
    /// type-of-service byte.
    @inlinable public var dscp: UInt8 {
        get { bytes.bits(at: 1, mask: 0xFC) }
        nonmutating set { bytes.storeBits(newValue, at: 1, mask: UInt8(0xFC)) }
    }

    /// Explicit Congestion Notification (RFC 3168), the lower two bits.
    @inlinable public var ecn: UInt8 {
        get { bytes.bits(at: 1, mask: 0x03) }
        nonmutating set { bytes.storeBits(newValue, at: 1, mask: UInt8(0x03)) }
    }

    /// Length of the datagram, header included.
    @inlinable public var totalLength: UInt16 {
        get { bytes.bigEndian(at: 2) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 2) }
    }

    @inlinable public var identification: UInt16 {
        get { bytes.bigEndian(at: 4) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 4) }
    }

    /// The DF flag: routers must drop rather than fragment (path MTU discovery).
    @inlinable public var dontFragment: Bool {
        get { bytes.bits(at: 6, mask: UInt16(0x4000)) != 0 }
        nonmutating set { bytes.storeBits(newValue ? 1 : 0, at: 6, mask: UInt16(0x4000)) }
    }

    /// The MF flag: more fragments of this datagram follow.
    @inlinable public var moreFragments: Bool {
        get { bytes.bits(at: 6, mask: UInt16(0x2000)) != 0 }
        nonmutating set { bytes.storeBits(newValue ? 1 : 0, at: 6, mask: UInt16(0x2000)) }
    }

    /// Position of this fragment's data in the datagram, in units of eight bytes.
    @inlinable public var fragmentOffset: UInt16 {
        get { bytes.bits(at: 6, mask: UInt16(0x1FFF)) }
        nonmutating set { bytes.storeBits(newValue, at: 6, mask: UInt16(0x1FFF)) }
    }

    /// Whether this datagram is a fragment (first, middle or last) rather than whole.
    @inlinable public var isFragment: Bool { moreFragments || fragmentOffset != 0 }

    @inlinable public var timeToLive: UInt8 {
        get { bytes[8] }
        nonmutating set { bytes[8] = newValue }
    }

    @inlinable public var `protocol`: IPProtocol {
        get { IPProtocol(rawValue: bytes[9]) }
        nonmutating set { bytes[9] = newValue.rawValue }
    }

    @inlinable public var checksum: UInt16 {
        get { bytes.bigEndian(at: 10) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 10) }
    }

    @inlinable public var source: IPv4Address {
        get { bytes.ipv4Address(at: 12) }
        nonmutating set { bytes.storeIPv4Address(newValue, at: 12) }
    }

    @inlinable public var destination: IPv4Address {
        get { bytes.ipv4Address(at: 16) }
        nonmutating set { bytes.storeIPv4Address(newValue, at: 16) }
    }

    /// The header: fixed part and options.
    @inlinable public var header: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: 0, to: headerLength)
    }

    /// The options, between the fixed header and the payload (often empty).
    @inlinable public var options: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: Self.minimumHeaderLength, to: headerLength)
    }

    /// The data after the header, up to the total length (link padding excluded).
    @inlinable public var payload: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: headerLength, to: Int(totalLength))
    }

    /// Whether the header checksum is correct (the header sums to all ones).
    @inlinable public func verifyChecksum() -> Bool {
        header.hasValidChecksum()
    }

    /// Computes the header checksum and stores it; call after the last header change.
    @inlinable public func fillChecksum() {
        header.fillChecksum(at: 10)
    }
}
