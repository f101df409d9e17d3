/// The values an off-path attacker must not predict, each a keyed hash under the
/// engine's secret (or a key derived from it, so that one value learnt reveals
/// nothing of another): initial sequence numbers, timestamp offsets and where
/// the ephemeral ports towards a destination start.
extension TCPLayer {
    /// An initial sequence number per RFC 6528: a 4-µs clock plus a keyed hash of
    /// the 4-tuple, so sequence numbers of successive connections with the same
    /// tuple increase while staying unpredictable to off-path attackers.
    @inline(__always)
    func initialSequenceNumber(for tuple: FourTuple, now: Instant) -> SequenceNumber {
        let words = tuple.packedWords
        let offset = UInt32(truncatingIfNeeded: secret.hash(words.0, words.1))
        return SequenceNumber(UInt32(truncatingIfNeeded: now.nanoseconds / 4_000) &+ offset)
    }

    /// The offset added to a connection's TSvals (RFC 7323 §7.1), as Linux: a
    /// keyed hash of the 4-tuple, under a key of its own so that it reveals
    /// nothing of the ISN offset. Cookies encode nothing in timestamps (the
    /// cookie SYN-ACK carries none), so they need no part in it.
    @inline(__always)
    func timestampOffset(for tuple: FourTuple) -> UInt32 {
        let words = tuple.packedWords
        return UInt32(truncatingIfNeeded: timestampSecret.hash(words.0, words.1))
    }

    /// RFC 6056's F(local address, remote address, remote port, secret): where
    /// the run of ephemeral ports towards one destination starts.
    @inline(__always)
    func ephemeralPortOffset(to tuple: FourTuple) -> UInt32 {
        let words = tuple.packedWords
        return UInt32(truncatingIfNeeded: ephemeralPortSecret.hash(words.0, UInt64(tuple.remotePort)))
    }
}
