/// The IPv4 protocol field (IANA "Assigned Internet Protocol Numbers"): what the
/// datagram's payload is. A struct over the raw value so that any protocol parses.
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let icmp = IPProtocol(rawValue: 1)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)

    // IPv6 next-header values (RFC 8200 §4, RFC 4443)
    public static let hopByHopOptions = IPProtocol(rawValue: 0)
    public static let ipv6Routing = IPProtocol(rawValue: 43)
    public static let ipv6Fragment = IPProtocol(rawValue: 44)
    public static let icmpv6 = IPProtocol(rawValue: 58)
    public static let ipv6NoNextHeader = IPProtocol(rawValue: 59)
    public static let destinationOptions = IPProtocol(rawValue: 60)
}
