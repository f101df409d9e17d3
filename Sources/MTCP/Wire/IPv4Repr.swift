/// The fields of an IPv4 header that the stack acts on, as a plain value.
///
/// Options, DSCP/ECN and fragmentation are outside it: the stack sends no options,
/// skips received ones (the view's `payload` already starts after them), and neither
/// fragments nor reassembles.
public struct IPv4Repr: Hashable, Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var `protocol`: IPProtocol
    /// Bytes after the header (the total length minus the header length).
    public var payloadLength: Int
    public var timeToLive: UInt8
    public var identification: UInt16
    /// DF is set by default: TCP negotiates its segment size and does path MTU
    /// discovery instead of relying on fragmentation (as Linux does).
    public var dontFragment: Bool

    public init(source: IPv4Address, destination: IPv4Address, protocol: IPProtocol,
                payloadLength: Int, timeToLive: UInt8 = 64, identification: UInt16 = 0,
                dontFragment: Bool = true) {
        self.source = source
        self.destination = destination
        self.protocol = `protocol`
        self.payloadLength = payloadLength
        self.timeToLive = timeToLive
        self.identification = identification
        self.dontFragment = dontFragment
    }

    /// Bytes of header `emit` writes: always 20, no options.
    public static let headerLength = IPv4Packet.minimumHeaderLength

    /// Header plus payload: the datagram's total length.
    public var bufferLength: Int { Self.headerLength + payloadLength }

    /// Reads a checked datagram. Fragments are refused (`WireError.fragmented`), since
    /// this representation cannot describe them. The checksum is not verified here:
    /// call `verifyChecksum()` first unless the NIC reported it good.
    public static func parse(_ packet: IPv4Packet) throws(WireError) -> IPv4Repr {
        guard !packet.isFragment else { throw .fragmented }
        return IPv4Repr(source: packet.source, destination: packet.destination,
                        protocol: packet.protocol, payloadLength: packet.payload.count,
                        timeToLive: packet.timeToLive, identification: packet.identification,
                        dontFragment: packet.dontFragment)
    }

    /// Writes a 20-byte header at the start of `packet`; the caller writes the payload.
    /// The checksum is filled in, unless `checksumOffloaded` says the NIC will compute
    /// it, in which case the field is left zero as offloading NICs expect.
    public func emit(into packet: IPv4Packet, checksumOffloaded: Bool = false) {
        precondition(packet.bytes.count >= Self.headerLength, "buffer too small for an IPv4 header")
        precondition(bufferLength <= Int(UInt16.max), "IPv4 datagram longer than 65535 bytes")
        packet.version = 4
        packet.headerLength = Self.headerLength
        packet.dscp = 0
        packet.ecn = 0
        packet.totalLength = UInt16(bufferLength)
        packet.identification = identification
        packet.bytes.storeBigEndian(UInt16(0), at: 6)  // flags and offset: a whole datagram
        packet.dontFragment = dontFragment
        packet.timeToLive = timeToLive
        packet.protocol = `protocol`
        packet.source = source
        packet.destination = destination
        if checksumOffloaded {
            packet.checksum = 0
        } else {
            packet.fillChecksum()
        }
    }
}
