/// SipHash-2-4 (Aumasson and Bernstein, 2012) over whole 64-bit words: a keyed
/// pseudo-random function, fast enough for every SYN. It keys the initial
/// sequence numbers (RFC 6528) and the SYN cookies (RFC 4987), so an observer
/// cannot predict either without the per-engine secret; keys derived from it
/// (`init(derivedFrom:label:)`) do the same for timestamp offsets and ports.
///
/// `tableHash` is SipHash-1-3, for hash tables only: what the flow table needs
/// is placement an attacker cannot predict (hash flooding), not a PRF whose
/// outputs are seen; Rust's standard HashMap and Python's string hashing use
/// the same variant, Linux's hsiphash too. It is run for every segment.
public struct SipHash: Sendable {
    public let key0: UInt64
    public let key1: UInt64

    public init(key0: UInt64, key1: UInt64) {
        self.key0 = key0
        self.key1 = key1
    }

    /// A key of its own for one use of `secret`, named by `label`: what one use
    /// reveals (a timestamp offset, a port) says nothing about another's hashes.
    public init(derivedFrom secret: SipHash, label: UInt64) {
        self.init(key0: secret.hash(label, 0), key1: secret.hash(label, 1))
    }

    /// A key from `random` (the runtime seeds it from the system's generator).
    public init(using random: inout some RandomNumberGenerator) {
        self.init(key0: random.next(), key1: random.next())
    }

    /// SipHash-2-4 of `words` taken as 8·n little-endian message bytes.
    @inline(__always)
    public func hash(_ w0: UInt64) -> UInt64 { digest((w0, 0, 0, 0, 0), count: 1, .prf) }

    @inline(__always)
    public func hash(_ w0: UInt64, _ w1: UInt64) -> UInt64 { digest((w0, w1, 0, 0, 0), count: 2, .prf) }

    @inline(__always)
    public func hash(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64) -> UInt64 {
        digest((w0, w1, w2, 0, 0), count: 3, .prf)
    }

    /// Four words: an IPv6 address pair.
    @inline(__always)
    public func hash(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) -> UInt64 {
        digest((w0, w1, w2, w3, 0), count: 4, .prf)
    }

    /// Five words: an IPv6 flow's addresses and ports.
    @inline(__always)
    public func hash(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64, _ w4: UInt64) -> UInt64 {
        digest((w0, w1, w2, w3, w4), count: 5, .prf)
    }

    /// SipHash-1-3 of two words: an IPv4 flow's addresses and ports.
    @inline(__always)
    public func tableHash(_ w0: UInt64, _ w1: UInt64) -> UInt64 { digest((w0, w1, 0, 0, 0), count: 2, .table) }

    /// SipHash-1-3 of five words: an IPv6 flow's addresses and ports.
    @inline(__always)
    public func tableHash(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64, _ w4: UInt64) -> UInt64 {
        digest((w0, w1, w2, w3, w4), count: 5, .table)
    }

    /// SipHash-c-d's round counts.
    struct Rounds {
        var compression: Int
        var finalization: Int
        /// SipHash-2-4, the PRF.
        static var prf: Rounds { Rounds(compression: 2, finalization: 4) }
        /// SipHash-1-3, for hash tables.
        static var table: Rounds { Rounds(compression: 1, finalization: 3) }
    }

    /// The first `count` of `words` (at most five), with `rounds`. Inlined with
    /// constant arguments, it is straight-line code for that many words.
    @inline(__always)
    private func digest(_ words: (UInt64, UInt64, UInt64, UInt64, UInt64), count: Int, _ rounds: Rounds) -> UInt64 {
        var state = State(key0: key0, key1: key1)
        if count > 0 { state.absorb(words.0, rounds: rounds.compression) }
        if count > 1 { state.absorb(words.1, rounds: rounds.compression) }
        if count > 2 { state.absorb(words.2, rounds: rounds.compression) }
        if count > 3 { state.absorb(words.3, rounds: rounds.compression) }
        if count > 4 { state.absorb(words.4, rounds: rounds.compression) }
        return state.finish(length: 8 * count, compressionRounds: rounds.compression, finalRounds: rounds.finalization)
    }

    struct State {
        var v0, v1, v2, v3: UInt64

        @inline(__always) init(key0: UInt64, key1: UInt64) {
            v0 = key0 ^ 0x736F_6D65_7073_6575
            v1 = key1 ^ 0x646F_7261_6E64_6F6D
            v2 = key0 ^ 0x6C79_6765_6E65_7261
            v3 = key1 ^ 0x7465_6462_7974_6573
        }

        @inline(__always) mutating func round() {
            v0 &+= v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
            v2 &+= v3; v3 = v3.rotatedLeft(16); v3 ^= v2
            v0 &+= v3; v3 = v3.rotatedLeft(21); v3 ^= v0
            v2 &+= v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
        }

        /// One message word with `rounds` compression rounds (2 in SipHash-2-4).
        @inline(__always) mutating func absorb(_ word: UInt64, rounds: Int) {
            v3 ^= word
            for _ in 0..<rounds { round() }
            v0 ^= word
        }

        /// The final block holds only the length byte: messages here are whole words.
        @inline(__always) mutating func finish(length: Int, compressionRounds: Int, finalRounds: Int) -> UInt64 {
            absorb(UInt64(truncatingIfNeeded: length) << 56, rounds: compressionRounds)
            v2 ^= 0xFF
            for _ in 0..<finalRounds { round() }
            return v0 ^ v1 ^ v2 ^ v3
        }
    }
}

extension UInt64 {
    @inline(__always) func rotatedLeft(_ count: UInt64) -> UInt64 { self << count | self >> (64 - count) }
}
