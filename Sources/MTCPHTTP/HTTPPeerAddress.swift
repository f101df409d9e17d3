/// A client's or upstream's address of either family as the HTTP layer writes
/// it (access log, X-Forwarded-For), without the stack's types: IPv4 in its
/// IPv4-mapped IPv6 form, as the stack's `IPAddress` holds it.
public struct HTTPPeerAddress: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address given as its 32 bits.
    public init(ipv4 value: UInt32) { self.init(ipv6High: 0, low: 0xFFFF_0000_0000 | UInt64(value)) }

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }
    /// The IPv4 address's 32 bits; meaningful only when `isIPv4`.
    public var ipv4: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// The 16-bit group `index` (0...7).
    func group(_ index: Int) -> UInt16 {
        UInt16(truncatingIfNeeded: (index < 4 ? high : low) >> UInt64(48 - 16 * (index % 4)))
    }
}

extension HTTPByteWriter {
    /// Appends an address in dotted-decimal form (IPv4) or RFC 5952's
    /// canonical text (IPv6: lower-case hex, the longest run of two or more
    /// zero groups as "::"), with no allocation.
    public mutating func append(peerAddress address: HTTPPeerAddress) {
        guard !address.isIPv4 else { return append(dottedQuad: address.ipv4) }
        var run = (start: -1, length: 1)
        var index = 0
        while index < 8 {
            var end = index
            while end < 8 && address.group(end) == 0 { end += 1 }
            if end - index > run.length { run = (index, end - index) }
            index = end + 1
        }
        index = 0
        while index < 8 {
            if index == run.start {
                append("::")
                index += run.length
                continue
            }
            if index > 0 && index != run.start + run.length { append(byte: UInt8(ascii: ":")) }
            append(hex: UInt64(address.group(index)))
            index += 1
        }
    }
}
