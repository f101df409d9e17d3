/// ICMPv6 message types (RFC 4443 §2.1, RFC 4861 §4). The message layout
/// (type, code, checksum, then a 32-bit field) is ICMPv4's, so `ICMPPacket`
/// views both; only the numbers and the checksum's pseudo-header differ.
public struct ICMPv6Type: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let destinationUnreachable = ICMPv6Type(rawValue: 1)
    public static let packetTooBig = ICMPv6Type(rawValue: 2)
    public static let timeExceeded = ICMPv6Type(rawValue: 3)
    public static let parameterProblem = ICMPv6Type(rawValue: 4)
    public static let echoRequest = ICMPv6Type(rawValue: 128)
    public static let echoReply = ICMPv6Type(rawValue: 129)
    public static let routerSolicitation = ICMPv6Type(rawValue: 133)
    public static let routerAdvertisement = ICMPv6Type(rawValue: 134)
    public static let neighborSolicitation = ICMPv6Type(rawValue: 135)
    public static let neighborAdvertisement = ICMPv6Type(rawValue: 136)

    /// Error messages have the high bit clear (RFC 4443 §2.1): never answered
    /// with another error (§2.4 (e.1)).
    @inlinable public var isError: Bool { rawValue < 128 }
}

extension ICMPPacket {
    @inlinable public var icmpv6Type: ICMPv6Type {
        get { ICMPv6Type(rawValue: bytes[0]) }
        nonmutating set { bytes[0] = newValue.rawValue }
    }

    /// Whether an ICMPv6 message between these addresses has a correct checksum
    /// (its pseudo-header included, RFC 4443 §2.3).
    @inlinable public func verifyChecksum(source: IPv6Address, destination: IPv6Address) -> Bool {
        bytes.hasValidChecksum(after: .pseudoHeaderSum(source: source, destination: destination,
                                                       protocol: .icmpv6, length: bytes.count))
    }

    /// Computes and stores the ICMPv6 checksum; call when the message is final.
    @inlinable public func fillChecksum(source: IPv6Address, destination: IPv6Address) {
        bytes.fillChecksum(at: 2, after: .pseudoHeaderSum(source: source, destination: destination,
                                                          protocol: .icmpv6, length: bytes.count))
    }
}
