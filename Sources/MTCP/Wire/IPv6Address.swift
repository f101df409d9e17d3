/// An IPv6 address (RFC 4291), held as two host-order 64-bit halves so that
/// comparisons and prefix masks are integer operations, as `IPv4Address` does.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The first (network) half: bytes 0-7 in network order.
    public var high: UInt64
    /// The second (interface identifier) half: bytes 8-15.
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the text forms of RFC 4291 §2.2: eight groups of hex digits, one
    /// "::" standing for a run of zero groups, and a dotted-quad tail
    /// ("::ffff:198.18.0.1"). Nil for anything else (a zone suffix included).
    public init?(_ text: some StringProtocol) {
        guard let groups = Self.groups(Substring(text)) else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        for (index, group) in groups.enumerated() {
            if index < 4 { high = high << 16 | UInt64(group) } else { low = low << 16 | UInt64(group) }
        }
        self.init(high: high, low: low)
    }

    /// The eight 16-bit groups of `text`, "::" expanded; nil when malformed.
    private static func groups(_ text: Substring) -> [UInt16]? {
        guard !text.isEmpty else { return nil }
        var parts = text.split(separator: ":", omittingEmptySubsequences: false)
        // A "::" at either end splits into two empty parts; keep one, as in the middle.
        if parts.count >= 2 && parts[0].isEmpty {
            guard parts[1].isEmpty else { return nil }
            parts.removeFirst()
        }
        if parts.count >= 2 && parts[parts.count - 1].isEmpty {
            guard parts[parts.count - 2].isEmpty else { return nil }
            parts.removeLast()
        }
        var head: [UInt16] = [], tail: [UInt16] = []
        var compressed = false
        for (index, part) in parts.enumerated() {
            if part.isEmpty {
                // Only "::" leaves an empty part (a lone ":" at an end was stripped to one).
                guard !compressed, text.contains("::") else { return nil }
                compressed = true
                continue
            }
            let values: [UInt16]
            if part.contains(".") {
                guard index == parts.count - 1, let v4 = IPv4Address(part) else { return nil }
                values = [UInt16(v4.value >> 16), UInt16(v4.value & 0xFFFF)]
            } else {
                guard part.count <= 4, part.allSatisfy(\.isHexDigit), let value = UInt16(part, radix: 16) else {
                    return nil
                }
                values = [value]
            }
            if compressed { tail += values } else { head += values }
        }
        let explicit = head.count + tail.count
        guard compressed else { return explicit == 8 ? head : nil }
        guard explicit < 8 else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - explicit) + tail
    }

    public static let unspecified = IPv6Address(high: 0, low: 0)
    /// ff02::1, every node on the link.
    public static let allNodes = IPv6Address(high: 0xFF02 << 48, low: 1)

    @inlinable public var isUnspecified: Bool { high == 0 && low == 0 }
    @inlinable public var isLoopback: Bool { high == 0 && low == 1 }
    @inlinable public var isMulticast: Bool { high >> 56 == 0xFF }
    /// fe80::/10 (RFC 4291 §2.5.6).
    @inlinable public var isLinkLocal: Bool { high >> 54 == 0xFE80 >> 6 }
    /// ::ffff:0:0/96, an IPv4 address in IPv6 form: never a source on the wire (RFC 4291 §2.5.5.2).
    @inlinable public var isIPv4Mapped: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// The solicited-node multicast group of this address (RFC 4291 §2.7.1),
    /// ff02::1:ffXX:XXXX: where neighbour solicitations for it are sent.
    @inlinable public var solicitedNode: IPv6Address {
        IPv6Address(high: 0xFF02 << 48, low: 0x1_FF00_0000 | low & 0xFF_FFFF)
    }

    /// The Ethernet group address of a multicast IPv6 address (RFC 2464 §7):
    /// 33:33 followed by its last four bytes.
    @inlinable public var multicastMAC: MACAddress {
        MACAddress(0x3333_0000_0000 | low & 0xFFFF_FFFF)
    }

    /// The link-local address whose interface identifier is the modified EUI-64
    /// of `mac` (RFC 4291 appendix A, RFC 2464 §4): the universal/local bit
    /// flipped and ff:fe in the middle.
    public static func linkLocal(from mac: MACAddress) -> IPv6Address {
        let value = mac.value ^ 0x0200_0000_0000
        let identifier = (value >> 24) << 40 | 0xFF_FE00_0000 | value & 0xFF_FFFF
        return IPv6Address(high: 0xFE80 << 48, low: identifier)
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    /// RFC 5952's canonical text: lower-case hex, no leading zeros, the longest
    /// run (the first of equals) of two or more zero groups as "::".
    public var description: String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: ($0 < 4 ? high : low) >> UInt64(48 - 16 * ($0 % 4))) }
        var best = (start: -1, length: 1)
        var index = 0
        while index < 8 {
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > best.length { best = (index, end - index) }
            index = end + 1
        }
        func hex(_ range: Range<Int>) -> String { range.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard best.start >= 0 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }
}

/// An IPv6 address with its prefix length ("2001:2::1/64").
public struct IPv6Network: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv6Address
    public var prefixLength: Int

    public init(address: IPv6Address, prefixLength: Int) {
        precondition((0...128).contains(prefixLength), "prefix length out of range")
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses "address/n"; a missing "/n" means /128.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv6Address(parts[0]) else { return nil }
        var length = 128
        if parts.count == 2 {
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let parsed = Int(parts[1]),
                  (0...128).contains(parsed) else { return nil }
            length = parsed
        }
        self.init(address: address, prefixLength: length)
    }

    /// The masks of the two halves for this prefix length.
    @inlinable var masks: (high: UInt64, low: UInt64) {
        (prefixLength == 0 ? 0 : ~UInt64(0) << UInt64(64 - min(prefixLength, 64)),
         prefixLength <= 64 ? 0 : ~UInt64(0) << UInt64(128 - prefixLength))
    }

    public var networkAddress: IPv6Address {
        IPv6Address(high: address.high & masks.high, low: address.low & masks.low)
    }

    @inlinable public func contains(_ other: IPv6Address) -> Bool {
        let masks = masks
        return (other.high ^ address.high) & masks.high == 0 && (other.low ^ address.low) & masks.low == 0
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
