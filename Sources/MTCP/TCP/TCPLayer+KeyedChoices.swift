/// The values an off-path attacker must not predict, each a keyed hash under the
/// engine's secret (or a key derived from it, or a half of a hash, so that one
/// value learnt reveals nothing of another): initial sequence numbers, timestamp
/// offsets and where the ephemeral ports towards a destination start.
extension TCPLayer {
    /// A new connection's two keyed offsets, the halves of one keyed hash of its
    /// 4-tuple: its initial sequence number's (RFC 6528) and its TSvals' (RFC
    /// 7323 §7.1, as Linux). The halves of a pseudo-random function's output are
    /// independent, so one learnt reveals nothing of the other, as with two keys,
    /// for one hash per connection instead of two (some 130 instructions of a
    /// short transaction). Cookies encode nothing in timestamps (the cookie
    /// SYN-ACK carries none), so they need no part in it.
    @inline(__always)
    func keyedOffsets(for tuple: FourTuple) -> (sequence: UInt32, timestamp: UInt32) {
        let words = tuple.packedWords(secret)
        let hash = secret.hash(words.addresses, words.ports)
        return (UInt32(truncatingIfNeeded: hash), UInt32(truncatingIfNeeded: hash >> 32))
    }

    /// An initial sequence number per RFC 6528: a 4-µs clock plus the keyed
    /// offset of the 4-tuple, so sequence numbers of successive connections with
    /// the same tuple increase while staying unpredictable to off-path attackers.
    @inline(__always)
    static func initialSequenceNumber(offset: UInt32, now: Instant) -> SequenceNumber {
        SequenceNumber(UInt32(truncatingIfNeeded: now.nanoseconds / 4_000) &+ offset)
    }

    /// RFC 6056's F(local address, remote address, remote port, secret): where
    /// the run of ephemeral ports towards one destination starts.
    @inline(__always)
    func ephemeralPortOffset(to tuple: FourTuple) -> UInt32 {
        let words = tuple.packedWords(ephemeralPortSecret)
        return UInt32(truncatingIfNeeded: ephemeralPortSecret.hash(words.addresses, UInt64(tuple.remotePort)))
    }
}
