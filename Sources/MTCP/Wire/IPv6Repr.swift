/// The fields of an IPv6 header this host writes (RFC 8200 §3): it sends no
/// extension headers, so the next header is the upper-layer protocol.
public struct IPv6Repr: Hashable, Sendable {
    public var source: IPv6Address
    public var destination: IPv6Address
    public var nextHeader: IPProtocol
    public var payloadLength: Int
    public var hopLimit: UInt8

    /// - Parameter hopLimit: 64 as Linux's default; Neighbor Discovery sends 255
    ///   (RFC 4861 §7.1: proof that the message was not forwarded).
    public init(source: IPv6Address, destination: IPv6Address, nextHeader: IPProtocol, payloadLength: Int,
                hopLimit: UInt8 = 64) {
        self.source = source
        self.destination = destination
        self.nextHeader = nextHeader
        self.payloadLength = payloadLength
        self.hopLimit = hopLimit
    }

    /// Header plus payload.
    public var bufferLength: Int { IPv6Packet.headerLength + payloadLength }

    public func emit(into packet: IPv6Packet) {
        precondition(packet.bytes.count >= IPv6Packet.headerLength, "buffer too small for an IPv6 header")
        precondition(payloadLength <= Int(UInt16.max), "IPv6 payload longer than 65535 bytes")
        packet.bytes.storeBigEndian(UInt32(6) << 28, at: 0)  // version; traffic class and flow label 0
        packet.payloadLength = UInt16(payloadLength)
        packet.nextHeader = nextHeader
        packet.hopLimit = hopLimit
        packet.source = source
        packet.destination = destination
    }
}
