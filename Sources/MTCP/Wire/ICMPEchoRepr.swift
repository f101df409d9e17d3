/// An ICMP echo request or reply (RFC 792) as a plain value: the only ICMP messages
/// the stack acts on (it answers pings).
public struct ICMPEchoRepr: Hashable, Sendable {
    /// Which of the two echo messages.
    public enum Kind: Hashable, Sendable {
        case request
        case reply
    }

    public var kind: Kind
    public var identifier: UInt16
    public var sequenceNumber: UInt16
    /// Bytes of echo data after the header; a reply carries the request's unchanged.
    public var dataLength: Int

    public init(kind: Kind, identifier: UInt16, sequenceNumber: UInt16, dataLength: Int) {
        self.kind = kind
        self.identifier = identifier
        self.sequenceNumber = sequenceNumber
        self.dataLength = dataLength
    }

    /// Header plus data: the message length.
    public var bufferLength: Int { ICMPPacket.headerLength + dataLength }

    /// Reads an echo request or reply; any other type, or a code other than 0, is
    /// `WireError.unsupportedMessage`. The checksum is not verified here: call
    /// `verifyChecksum()` first.
    public static func parse(_ packet: ICMPPacket) throws(WireError) -> ICMPEchoRepr {
        guard packet.code == 0 else { throw .unsupportedMessage }
        let kind: Kind
        switch packet.messageType {
        case .echoRequest: kind = .request
        case .echoReply: kind = .reply
        default: throw .unsupportedMessage
        }
        return ICMPEchoRepr(kind: kind, identifier: packet.identifier,
                            sequenceNumber: packet.sequenceNumber, dataLength: packet.data.count)
    }

    /// Writes the 8-byte header with a zero checksum. The checksum covers the data,
    /// which the caller copies in afterwards; then it calls `packet.fillChecksum()`.
    public func emit(into packet: ICMPPacket) {
        precondition(packet.bytes.count >= ICMPPacket.headerLength, "buffer too small for an ICMP header")
        packet.messageType = kind == .request ? .echoRequest : .echoReply
        packet.code = 0
        packet.checksum = 0
        packet.identifier = identifier
        packet.sequenceNumber = sequenceNumber
    }
}
