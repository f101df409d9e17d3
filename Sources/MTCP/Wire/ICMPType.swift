/// The type of an ICMP message (RFC 792). A struct over the raw value so that any
/// message parses as a view; `ICMPEchoRepr` accepts only the echo types.
public struct ICMPType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let echoReply = ICMPType(rawValue: 0)
    public static let destinationUnreachable = ICMPType(rawValue: 3)
    public static let echoRequest = ICMPType(rawValue: 8)
    public static let timeExceeded = ICMPType(rawValue: 11)
}
