/// The fields of a received segment the state machine works with, read once from
/// the wire view (host order, sequence numbers as `SequenceNumber`).
struct IncomingSegment {
    var sequence: SequenceNumber
    var acknowledgment: SequenceNumber
    var flags: TCPFlags
    /// The window field as sent, before scaling.
    var window: Int
    var options: TCPOptions
    var payload: UnsafeMutableRawBufferPointer

    /// SEG.LEN: payload plus one for SYN and one for FIN.
    @inline(__always) var length: Int {
        payload.count + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }

    /// Sequence number of the first payload byte (a SYN comes before it).
    @inline(__always) var dataStart: SequenceNumber { sequence + (flags.contains(.syn) ? 1 : 0) }
}
