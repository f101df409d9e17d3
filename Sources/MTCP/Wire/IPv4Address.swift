/// An IPv4 address, held as a host-order integer so that comparisons, masks and
/// hashing are plain integer operations. Wire views convert at the edge.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    @inlinable public init(_ value: UInt32) { self.value = value }

    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad notation ("198.18.0.1"); nil for anything else
    /// (no leading zeros interpreted as octal, no short forms, no spaces).
    public init?(_ text: some StringProtocol) {
        var result: UInt32 = 0
        var octets = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let octet = UInt8(part), part.count == 1 || part.first != "0" else { return nil }
            result = result << 8 | UInt32(octet)
            octets += 1
        }
        guard octets == 4 else { return nil }
        value = result
    }

    public static let any = IPv4Address(0)
    public static let broadcast = IPv4Address(0xFFFF_FFFF)

    @inlinable public var isMulticast: Bool { value >> 28 == 0xE }
    @inlinable public var isBroadcast: Bool { value == 0xFFFF_FFFF }
    @inlinable public var isUnspecified: Bool { value == 0 }
    @inlinable public var isLoopback: Bool { value >> 24 == 127 }

    /// The network mask for a prefix length 0...32.
    @inlinable public static func mask(prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength)
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }
}

/// An address with its prefix length, as written in configuration ("198.18.0.1/24").
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var prefixLength: Int

    public init(address: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength), "prefix length out of range")
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses "a.b.c.d/n"; a missing "/n" means /32.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPv4Address(parts[0]) else { return nil }
        var length = 32
        if parts.count == 2 {
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let parsed = Int(parts[1]),
                  (0...32).contains(parsed) else { return nil }
            length = parsed
        }
        self.init(address: address, prefixLength: length)
    }

    @inlinable public var mask: UInt32 { IPv4Address.mask(prefixLength: prefixLength) }
    @inlinable public var networkAddress: IPv4Address { IPv4Address(address.value & mask) }
    @inlinable public var directedBroadcast: IPv4Address { IPv4Address(address.value | ~mask) }

    @inlinable public func contains(_ other: IPv4Address) -> Bool {
        (other.value ^ address.value) & mask == 0
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
