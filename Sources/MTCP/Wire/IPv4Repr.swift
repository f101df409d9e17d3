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
        // The five words of the header built in registers and summed from there:
        // every packet sent has one, and field by field through the packet's
        // accessors, then summed again from memory, it cost about 350 instructions
        // (callgrind, mtcp-httpd) for 20 bytes. Version 4, a 20-byte header, no
        // DSCP or ECN, a whole datagram (no fragment offset or MF).
        let versionAndLength = 0x4500_0000 | UInt32(truncatingIfNeeded: bufferLength)
        let identificationAndFlags = UInt32(identification) << 16 | (dontFragment ? 0x4000 : 0)
        let timeToLiveAndProtocol = UInt32(timeToLive) << 24 | UInt32(`protocol`.rawValue) << 16
        var checksum: UInt16 = 0
        if !checksumOffloaded {
            var sum = InternetChecksum()
            sum.add(versionAndLength)
            sum.add(identificationAndFlags)
            sum.add(timeToLiveAndProtocol)
            sum.add(source.value)
            sum.add(destination.value)
            checksum = sum.checksum
        }
        let bytes = packet.bytes
        bytes.storeBigEndian(versionAndLength, at: 0)
        bytes.storeBigEndian(identificationAndFlags, at: 4)
        bytes.storeBigEndian(timeToLiveAndProtocol | UInt32(checksum), at: 8)
        bytes.storeBigEndian(source.value, at: 12)
        bytes.storeBigEndian(destination.value, at: 16)
    }
}
