/// The operation of an ARP packet (RFC 826). Checked ARP views admit only the two
/// defined here, so code past the check never meets another value from the wire.
public struct ARPOperation: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16

    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let request = ARPOperation(rawValue: 1)
    public static let reply = ARPOperation(rawValue: 2)
}
