/// The holes resent above SND.UNA in one fast recovery, each with when it left
/// and SND.MAX then: what RACK (RFC 8985 §6.2) needs to find a retransmission
/// that was lost too. The send buffer keeps no per-segment records; without
/// these times a lost retransmission of a hole above SND.UNA waited until every
/// hole below it was repaired and it became SND.UNA (at 10% loss the
/// cumulative ACK trailed SND.MAX by 2-4 MB, and a last lost copy cost an RTO).
///
/// Fixed inline storage; when full, the lowest record makes way (its hole is
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
    /// The newest of the retransmissions delivered so far (RACK.xmit_ts and
    /// RACK.end_seq, for the resent holes).
    private var newestDelivered: Record? = nil
    /// Read by `mutating` members only, to get `self` by address rather than
    /// as a 1.5 KB copy (see `SACKScoreboard`).
    private var records = InlineArray<64, Record>(
        repeating: Record(start: SequenceNumber(0), end: SequenceNumber(0), sendMaximum: SequenceNumber(0),
                          sentAt: .zero))

    @inline(__always) var isEmpty: Bool { count == 0 }

    /// Where `records` lies in the struct, in bytes: records past `count` are
    /// never read, so a reset need not touch them (`ConnectionPool`).
    static var inlineArrayBytes: Range<Int> { MemoryLayout<Self>.bytes(of: \Self.records) }

    mutating func clear() {
        count = 0
        newestDelivered = nil
    }

    @inline(__always)
    subscript(index: Int) -> Record {
        mutating get { records[index] }
        set { records[index] = newValue }
    }

    /// A hole `[start, end)` was resent now.
    mutating func append(start: SequenceNumber, end: SequenceNumber, sendMaximum: SequenceNumber, now: Instant) {
        if count == Self.capacity { remove(at: 0) }
        records[count] = Record(start: start, end: end, sendMaximum: sendMaximum, sentAt: now)
        count += 1
    }

    /// The record of the hole that holds `sequence`, if one is kept.
    mutating func record(holding sequence: SequenceNumber) -> Record? {
        for index in 0..<count where records[index].start <= sequence && sequence < records[index].end {
            return records[index]
        }
        return nil
    }

    /// The record at `index` was delivered (SACKed or cumulatively acknowledged).
    mutating func delivered(at index: Int) {
        let record = records[index]
        if newestDelivered.map({ Self.left(record, after: $0) }) ?? true { newestDelivered = record }
        remove(at: index)
    }

    /// Whether a delivered retransmission left after `record`.
    @inline(__always)
    func overtook(_ record: Record) -> Bool {
        newestDelivered.map { Self.left($0, after: record) } ?? false
    }

    /// RFC 8985 §6.2's RACK_sent_after: holes resent together share a time and
    /// are ordered by sequence.
    @inline(__always)
    private static func left(_ later: Record, after earlier: Record) -> Bool {
        earlier.sentAt < later.sentAt || (earlier.sentAt == later.sentAt && earlier.end < later.end)
    }

    private mutating func remove(at index: Int) {
        for next in (index + 1)..<count { records[next - 1] = records[next] }
        count -= 1
    }
}
