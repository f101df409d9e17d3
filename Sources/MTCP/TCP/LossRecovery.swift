/// Where a connection's loss recovery stands: RFC 6582's "recover" kept as an
/// explicit state instead of a sequence number compared with SND.UNA.
///
/// RFC 6582 §3.2 initialises "recover" to the ISS so that the first loss passes
/// its guard; as a bare sequence number that needs the ISS recorded and a serial
/// comparison that goes stale once 2^31 bytes have passed without a loss. Here
/// "no recovery point" is a state of its own, left as soon as an ACK covers the
/// point, so the guard is a plain test.
enum LossRecovery: Equatable {
    /// No loss outstanding: duplicate ACKs may start fast recovery.
    case none
    /// Fast retransmit and recovery (RFC 5681 §3.2, RFC 6582, RFC 6675) until an ACK
    /// reaches `recover`, SND.MAX when recovery started.
    case fast(recover: SequenceNumber)
    /// A retransmission timeout resent data sent before it (RFC 6582 §3.2 step 6):
    /// until an ACK reaches `recover`, SND.MAX when the timer fired, duplicate ACKs
    /// start fast recovery only when §4.2's ACK heuristic says they are for data
    /// lost after the timeout.
    case afterTimeout(recover: SequenceNumber)
}
