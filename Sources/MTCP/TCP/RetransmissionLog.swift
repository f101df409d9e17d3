/// The holes resent above SND.UNA in one fast recovery, each with when it left
/// and SND.MAX then: what RACK (RFC 8985 §6.2) needs to find a retransmission
/// that was lost too. The send buffer keeps no per-segment records; without
/// these times a lost retransmission of a hole above SND.UNA waited until every
/// hole below it was repaired and it became SND.UNA (at 10% loss the
/// cumulative ACK trailed SND.MAX by 2-4 MB, and a last lost copy cost an RTO).
///
/// Fixed inline storage; when full, the oldest record makes way (its hole is
/// the nearest to SND.UNA, where the head's own timing takes it over).
struct RetransmissionLog {
    struct Record {
        var start: SequenceNumber
        var end: SequenceNumber
        /// SND.MAX when it left: a SACK above this is for data sent after it.
        var sendMaximum: SequenceNumber
        var sentAt: Instant
    }

    static let capacity = 64
    private(set) var count = 0
    /// When the newest of the retransmissions delivered so far left (RACK.xmit_ts,
    /// for the resent holes): a record older than that was overtaken.
    private(set) var newestDeliveredSentAt: Instant? = nil
    private var records = InlineArray<64, Record>(
        repeating: Record(start: SequenceNumber(0), end: SequenceNumber(0), sendMaximum: SequenceNumber(0),
                          sentAt: .zero))

    @inline(__always) var isEmpty: Bool { count == 0 }

    mutating func clear() {
        count = 0
        newestDeliveredSentAt = nil
    }

    @inline(__always)
    subscript(index: Int) -> Record {
        get { records[index] }
        set { records[index] = newValue }
    }

    /// A hole `[start, end)` was resent now.
    mutating func append(start: SequenceNumber, end: SequenceNumber, sendMaximum: SequenceNumber, now: Instant) {
        if count == Self.capacity { remove(at: 0) }
        records[count] = Record(start: start, end: end, sendMaximum: sendMaximum, sentAt: now)
        count += 1
    }

    /// The record at `index` was delivered (SACKed or cumulatively acknowledged).
    mutating func delivered(at index: Int) {
        let sentAt = records[index].sentAt
        if newestDeliveredSentAt.map({ $0 < sentAt }) ?? true { newestDeliveredSentAt = sentAt }
        remove(at: index)
    }

    private mutating func remove(at index: Int) {
        for next in (index + 1)..<count { records[next - 1] = records[next] }
        count -= 1
    }
}
