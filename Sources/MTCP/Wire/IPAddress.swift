/// An address of either family, where a value must hold both (a connection's
/// endpoints, a socket address). IPv4 is kept in its IPv4-mapped IPv6 form
/// (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), so equality and hashing are the same
/// two-word operations for both; IPv6 input refuses mapped sources, so the
/// two families never meet in one value.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public var v6: IPv6Address

    @inlinable public init(_ address: IPv4Address) {
        v6 = IPv6Address(high: 0, low: 0xFFFF_0000_0000 | UInt64(address.value))
    }

    @inlinable public init(_ address: IPv6Address) { v6 = address }

    /// Parses either family's text form ("198.18.0.1", "2001:2::1").
    public init?(_ text: some StringProtocol) {
        if let v4 = IPv4Address(text) {
            self.init(v4)
        } else if let v6 = IPv6Address(text) {
            self.init(v6)
        } else {
            return nil
        }
    }

    public static let anyIPv4 = IPAddress(IPv4Address.any)

    @inlinable public var isIPv4: Bool { v6.isIPv4Mapped }

    /// The IPv4 address; meaningful only when `isIPv4`.
    @inlinable public var v4: IPv4Address { IPv4Address(UInt32(truncatingIfNeeded: v6.low)) }

    /// The unspecified address of this address's family.
    @inlinable public var isUnspecified: Bool { isIPv4 ? v4.isUnspecified : v6.isUnspecified }

    public var description: String { isIPv4 ? v4.description : v6.description }
}
