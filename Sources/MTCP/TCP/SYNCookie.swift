/// SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the SYN-ACK's
/// initial sequence number encodes the connection instead of a control block, so
/// a SYN flood cannot exhaust memory or lock out real clients.
///
/// Layout of the 32-bit cookie: 5 bits of a 64-second counter, 3 bits indexing
/// the peer's MSS in `mssTable`, 24 bits of a keyed hash over the 4-tuple, the
/// counter and the peer's initial sequence number. Like Linux without timestamps,
/// a cookie cannot carry window scaling or SACK: such connections run without.
struct SYNCookie {
    /// MSS values a cookie can express, largest not above the peer's is chosen.
    static let mssTable: [UInt16] = [536, 1200, 1300, 1360, 1400, 1440, 1460, 8960]
    /// Counter ticks a cookie stays valid for (two: between 64 and 128 s).
    static let lifetimeTicks: UInt32 = 2

    /// How long after its listener last sent one a returned cookie is checked at
    /// all (as Linux, which checks cookies only while the SYN queue overflowed
    /// recently): the longest a cookie stays valid, so every cookie sent is still
    /// honoured, while a listener that has not overflowed answers a cookie-shaped
    /// ACK as any stray ACK (a reset) without spending a keyed hash on it.
    static let checkWindow = TimeSpan.seconds(64 * UInt64(lifetimeTicks))

    @inline(__always)
    static func counter(_ now: Instant) -> UInt32 { UInt32(truncatingIfNeeded: now.nanoseconds / 64_000_000_000) }

    @inline(__always)
    static func hash(_ secret: SipHash, _ tuple: FourTuple, counter: UInt32, peerSequence: SequenceNumber) -> UInt32 {
        let words = tuple.packedWords(secret)
        return UInt32(truncatingIfNeeded: secret.hash(words.addresses, words.ports ^ UInt64(counter & 0x1F) << 48,
                                                      UInt64(peerSequence.rawValue))) & 0xFF_FFFF
    }

    /// The cookie to send as our ISN.
    static func make(_ secret: SipHash, _ tuple: FourTuple, peerSequence: SequenceNumber, peerMSS: Int,
                     now: Instant) -> SequenceNumber {
        let counter = counter(now) & 0x1F
        var mssIndex = 0
        for (index, mss) in mssTable.enumerated() where Int(mss) <= peerMSS { mssIndex = index }
        let hash = hash(secret, tuple, counter: counter, peerSequence: peerSequence)
        return SequenceNumber(counter << 27 | UInt32(mssIndex) << 24 | hash)
    }

    /// The MSS encoded in `cookie` if it is genuine and fresh, nil otherwise.
    /// `peerSequence` is the sequence number of the peer's SYN (the ACK's minus one).
    static func validate(_ cookie: SequenceNumber, _ secret: SipHash, _ tuple: FourTuple,
                         peerSequence: SequenceNumber, now: Instant) -> Int? {
        let raw = cookie.rawValue
        let counter = raw >> 27
        let age = (Self.counter(now) &- counter) & 0x1F
        guard age < lifetimeTicks else { return nil }
        guard raw & 0xFF_FFFF == hash(secret, tuple, counter: counter, peerSequence: peerSequence) else { return nil }
        return Int(mssTable[Int(raw >> 24 & 0x7)])
    }
}
