/// Byte access shared by the wire views: big-endian integers and addresses at byte
/// offsets, read-modify-write of bit fields, and sub-buffers that stay in bounds.
///
/// Wire fields are not aligned (an IPv4 header follows a 14-byte Ethernet header),
/// so every load is `loadUnaligned`; on x86-64 and arm64 it is a plain `mov`/`ldr`.
/// Offsets are the caller's responsibility: each view checks its buffer's length
/// once, at construction, and then accesses only fixed offsets inside that length.
extension UnsafeMutableRawBufferPointer {
    /// The big-endian integer of `T`'s width at `offset`, in host order.
    @inlinable @inline(__always)
    func bigEndian<T: FixedWidthInteger>(at offset: Int, as type: T.Type = T.self) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Stores `value` big-endian at `offset`.
    @inlinable @inline(__always)
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }

    /// The bits of the big-endian integer at `offset` selected by `mask`, shifted down
    /// so the lowest bit of the mask is bit 0 (for packed fields such as IHL or DSCP).
    @inlinable @inline(__always)
    func bits<T: FixedWidthInteger>(at offset: Int, mask: T) -> T {
        (bigEndian(at: offset, as: T.self) & mask) >> mask.trailingZeroBitCount
    }

    /// Replaces the bits selected by `mask` of the big-endian integer at `offset`
    /// with `value` (shifted into place, excess bits dropped), keeping the others.
    @inlinable @inline(__always)
    func storeBits<T: FixedWidthInteger>(_ value: T, at offset: Int, mask: T) {
        let kept = bigEndian(at: offset, as: T.self) & ~mask
        storeBigEndian(kept | (value << mask.trailingZeroBitCount) & mask, at: offset)
    }

    @inlinable @inline(__always)
    func ipv4Address(at offset: Int) -> IPv4Address {
        IPv4Address(bigEndian(at: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    func storeIPv4Address(_ address: IPv4Address, at offset: Int) {
        storeBigEndian(address.value, at: offset)
    }

    /// The Ethernet address at `offset`; the buffer must hold six bytes there, which
    /// also means it is not empty and has a base address.
    @inlinable @inline(__always)
    func ipv6Address(at offset: Int) -> IPv6Address {
        IPv6Address(high: bigEndian(at: offset), low: bigEndian(at: offset + 8))
    }

    @inlinable @inline(__always)
    func storeIPv6Address(_ address: IPv6Address, at offset: Int) {
        storeBigEndian(address.high, at: offset)
        storeBigEndian(address.low, at: offset + 8)
    }

    @inlinable @inline(__always)
    func macAddress(at offset: Int) -> MACAddress {
        MACAddress(loadingFrom: baseAddress.unsafelyUnwrapped + offset)
    }

    @inlinable @inline(__always)
    func storeMACAddress(_ address: MACAddress, at offset: Int) {
        address.store(to: baseAddress.unsafelyUnwrapped + offset)
    }

    /// Bytes `start..<end`, both clamped into the buffer (and `start` to at most
    /// `end`). Views derive options and payload from length fields that setters may
    /// have changed since the check; clamping keeps those accessors in bounds anyway.
    @inlinable @inline(__always)
    func clampedSlice(from start: Int, to end: Int) -> UnsafeMutableRawBufferPointer {
        let upper = Swift.min(Swift.max(end, 0), count)
        let lower = Swift.min(Swift.max(start, 0), upper)
        return UnsafeMutableRawBufferPointer(rebasing: self[lower..<upper])
    }
}
