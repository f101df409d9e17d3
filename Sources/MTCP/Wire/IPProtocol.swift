/// The IPv4 protocol field (IANA "Assigned Internet Protocol Numbers"): what the
/// datagram's payload is. A struct over the raw value so that any protocol parses.
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let icmp = IPProtocol(rawValue: 1)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
}
