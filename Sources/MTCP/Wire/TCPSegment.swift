/// A zero-copy view of a TCP segment (RFC 9293 §3.1): header fields, options, payload.
///
/// The buffer is the IPv4 payload: TCP has no length field of its own, so the segment
/// ends where the datagram does, and the checksum covers exactly the buffer plus the
/// pseudo-header. Checksums are verified separately, by `verifyChecksum`, because a
/// NIC with receive offload may have done it already.
public struct TCPSegment {
    /// Size of a header without options.
    public static let minimumHeaderLength = 20

    /// The segment, header first.
    public let bytes: UnsafeMutableRawBufferPointer

    /// Wraps `bytes` after checking that the fixed header fits and that the data
    /// offset covers at least it and at most the buffer, so `options` and `payload`
    /// stay in bounds. The options themselves are checked by `TCPOptions(parsing:)`.
    @inlinable
    public init(checking bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.minimumHeaderLength else { throw .truncated }
        self.bytes = bytes
        guard headerLength >= Self.minimumHeaderLength else { throw .badHeaderLength }
        guard headerLength <= bytes.count else { throw .truncated }
    }

    /// Wraps `bytes` unchecked, to write a new segment into; the buffer must hold the
    /// header and is checksummed whole.
    @inlinable
    public init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 {
        get { bytes.bigEndian(at: 0) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 0) }
    }

    @inlinable public var destinationPort: UInt16 {
        get { bytes.bigEndian(at: 2) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 2) }
    }

    @inlinable public var sequenceNumber: UInt32 {
        get { bytes.bigEndian(at: 4) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 4) }
    }

    /// Meaningful only when the ACK flag is set.
    @inlinable public var acknowledgmentNumber: UInt32 {
        get { bytes.bigEndian(at: 8) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 8) }
    }

    /// Header length in bytes, options included (the data offset field times four).
    /// Setting it keeps the reserved bits.
    @inlinable public var headerLength: Int {
        get { Int(bytes.bits(at: 12, mask: UInt8(0xF0))) &* 4 }
        nonmutating set { bytes.storeBits(UInt8(truncatingIfNeeded: newValue / 4), at: 12, mask: UInt8(0xF0)) }
    }

    @inlinable public var flags: TCPFlags {
        get { TCPFlags(rawValue: bytes[13]) }
        nonmutating set { bytes[13] = newValue.rawValue }
    }

    /// The receive window, before window scaling.
    @inlinable public var window: UInt16 {
        get { bytes.bigEndian(at: 14) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 14) }
    }

    @inlinable public var checksum: UInt16 {
        get { bytes.bigEndian(at: 16) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 16) }
    }

    /// Meaningful only when the URG flag is set.
    @inlinable public var urgentPointer: UInt16 {
        get { bytes.bigEndian(at: 18) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 18) }
    }

    /// The options area, between the fixed header and the payload (often empty).
    @inlinable public var options: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: Self.minimumHeaderLength, to: headerLength)
    }

    /// The data after the header, to the end of the buffer.
    @inlinable public var payload: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: headerLength, to: bytes.count)
    }

    /// The pseudo-header sum for this segment between the two addresses: the
    /// IPv4 or the IPv6 pseudo-header (RFC 8200 §8.1) by their family.
    @inlinable @inline(__always)  // out of line it cost 60 instructions a short transaction
    func pseudoHeaderSum(source: IPAddress, destination: IPAddress) -> InternetChecksum {
        InternetChecksum.pseudoHeaderSum(source: source, destination: destination, protocol: .tcp, length: bytes.count)
    }

    /// Whether the checksum over pseudo-header, header and payload is correct.
    @inlinable @inline(__always)  // into the input path: out of line it cost 69 instructions a transaction
    public func verifyChecksum(source: IPAddress, destination: IPAddress) -> Bool {
        bytes.hasValidChecksum(after: pseudoHeaderSum(source: source, destination: destination))
    }

    /// Computes the full checksum and stores it; call when header and payload are final.
    @inlinable public func fillChecksum(source: IPAddress, destination: IPAddress) {
        bytes.fillChecksum(at: 16, after: pseudoHeaderSum(source: source, destination: destination))
    }

    /// Stores only the folded pseudo-header sum, not complemented: what a NIC doing
    /// TCP checksum offload expects in the field (DPDK's `rte_ipv4_phdr_cksum`), to
    /// extend over the segment itself.
    @inlinable public func fillPseudoHeaderChecksum(source: IPAddress, destination: IPAddress) {
        checksum = pseudoHeaderSum(source: source, destination: destination).folded
    }

    // IPv4 spellings of the same, for code that holds IPv4 addresses.

    @inlinable public func verifyChecksum(source: IPv4Address, destination: IPv4Address) -> Bool {
        verifyChecksum(source: IPAddress(source), destination: IPAddress(destination))
    }

    @inlinable public func fillChecksum(source: IPv4Address, destination: IPv4Address) {
        fillChecksum(source: IPAddress(source), destination: IPAddress(destination))
    }

    @inlinable public func fillPseudoHeaderChecksum(source: IPv4Address, destination: IPv4Address) {
        fillPseudoHeaderChecksum(source: IPAddress(source), destination: IPAddress(destination))
    }
}
