import Glibc
import MTCP

/// Weighted rendezvous (highest random weight) hashing for a pool's
/// `consistent_hash` balance: each server scores a request's key, the highest
/// score wins. A key keeps its server while that server is available; when a
/// server goes down (or is removed) only its own keys move, spread over the
/// others in proportion to their weights, and they come back when it does.
/// A score is `weight / -ln(u)` for `u` uniform in (0, 1) drawn from the key
/// and the server: the winner is then each server with probability
/// weight / total weight. Nothing allocated, a few multiplications and a
/// logarithm per server.
enum RendezvousHash {
    /// The key of request bytes (a header value): FNV-1a, mixed.
    static func key(of bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return mix(hash)
    }

    /// The key of a client address (either family).
    static func key(of address: IPAddress) -> UInt64 {
        mix(address.v6.high ^ mix(address.v6.low))
    }

    /// A server's own seed, from its address and port: the same server scores
    /// the same keys alike on every core and after a reload that keeps it.
    static func seed(of address: IPAddress, port: UInt16) -> UInt64 {
        mix(address.v6.high ^ mix(address.v6.low ^ UInt64(port) << 48))
    }

    /// The score of server `seed` of `weight` for `key`.
    static func score(key: UInt64, seed: UInt64, weight: Int) -> Double {
        let bits = mix(key ^ seed)
        let uniform = (Double(bits >> 11) + 0.5) / 9_007_199_254_740_992  // (0, 1): 53 bits and a half
        return Double(weight) / -log(uniform)
    }

    /// SplitMix64's finaliser: every input bit moves every output bit.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
