/// A TCP header as a plain value: what the state machine reads from a segment and
/// writes into one. The payload stays in the packet; only its length is here.
public struct TCPRepr: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: UInt32
    /// The acknowledgment number, present exactly when the ACK flag is: `parse` sets
    /// it from a segment with ACK, and `emit` sets the ACK flag when it is not nil
    /// (and clears it otherwise), so the two cannot disagree on the wire.
    public var acknowledgmentNumber: UInt32?
    public var flags: TCPFlags
    /// The receive window as sent, before window scaling.
    public var window: UInt16
    public var urgentPointer: UInt16
    public var options: TCPOptions
    /// Bytes of data after the header.
    public var payloadLength: Int

    public init(sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: UInt32,
                acknowledgmentNumber: UInt32?, flags: TCPFlags, window: UInt16,
                urgentPointer: UInt16 = 0, options: TCPOptions = TCPOptions(), payloadLength: Int = 0) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.urgentPointer = urgentPointer
        self.options = options
        self.payloadLength = payloadLength
    }

    /// Bytes of header `emit` writes: the fixed header plus the encoded options.
    public var headerLength: Int { TCPSegment.minimumHeaderLength + options.encodedLength }

    /// Header plus payload: the segment length, which the IPv4 header must carry.
    public var bufferLength: Int { headerLength + payloadLength }

    /// Reads a checked segment and parses its options (`WireError.malformedOption`).
    /// The checksum is not verified here: call `verifyChecksum` first unless the NIC
    /// reported it good.
    public static func parse(_ segment: TCPSegment) throws(WireError) -> TCPRepr {
        let flags = segment.flags
        return TCPRepr(sourcePort: segment.sourcePort, destinationPort: segment.destinationPort,
                       sequenceNumber: segment.sequenceNumber,
                       acknowledgmentNumber: flags.contains(.ack) ? segment.acknowledgmentNumber : nil,
                       flags: flags, window: segment.window, urgentPointer: segment.urgentPointer,
                       options: try TCPOptions(parsing: segment.options),
                       payloadLength: segment.payload.count)
    }

    /// Writes header and options at the start of `segment` with a zero checksum. The
    /// checksum covers the payload, which the caller copies in afterwards (at
    /// `headerLength`); then it calls `fillChecksum`, or `fillPseudoHeaderChecksum`
    /// when the NIC computes the rest.
    public func emit(into segment: TCPSegment) {
        let headerLength = self.headerLength
        precondition(segment.bytes.count >= headerLength, "buffer too small for the TCP header")
        // The fixed header as five big-endian words, as IPv4Repr.emit does: a
        // store each instead of a read-modify-write per field through the
        // segment's accessors (data offset and flags share bytes).
        let bytes = segment.bytes
        let sentFlags = acknowledgmentNumber == nil ? flags.subtracting(.ack) : flags.union(.ack)
        bytes.storeBigEndian(UInt32(sourcePort) << 16 | UInt32(destinationPort), at: 0)
        bytes.storeBigEndian(sequenceNumber, at: 4)
        bytes.storeBigEndian(acknowledgmentNumber ?? 0, at: 8)
        // Data offset, reserved bits zero, flags, window.
        bytes.storeBigEndian(UInt32(truncatingIfNeeded: headerLength / 4) << 28 | UInt32(sentFlags.rawValue) << 16
                                 | UInt32(window), at: 12)
        bytes.storeBigEndian(UInt32(urgentPointer), at: 16)  // the checksum zero, the urgent pointer
        options.emit(into: segment.options)
    }
}
