/// The EtherType of an Ethernet II frame: which protocol its payload carries.
///
/// A struct over the raw value rather than an enum, so that a frame of any type
/// parses and the caller decides what to drop.
public struct EtherType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16

    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ipv4 = EtherType(rawValue: 0x0800)
    public static let arp = EtherType(rawValue: 0x0806)
    /// An IEEE 802.1Q VLAN tag in place of the EtherType. The stack does not speak
    /// VLANs; such frames parse with this type and the caller drops them.
    public static let vlan = EtherType(rawValue: 0x8100)
    public static let ipv6 = EtherType(rawValue: 0x86DD)
}
