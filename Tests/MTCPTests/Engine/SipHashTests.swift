import Testing
@testable import MTCP

/// SipHash against the reference vectors: the key is the bytes 00..0f, message n
/// the bytes 00..n-1 (whole little-endian words here). SipHash-2-4's are the
/// reference implementation's (Aumasson and Bernstein); SipHash-1-3's are the
/// published 64-bit values, whose low 32 bits are what Linux's hsiphash returns
/// on 64-bit machines (lib/siphash_kunit.c).
@Suite struct SipHashTests {
    private let key = SipHash(key0: 0x0706_0504_0302_0100, key1: 0x0F0E_0D0C_0B0A_0908)
    /// Message bytes 00..27 as five words.
    private let words: [UInt64] = [0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908, 0x1716_1514_1312_1110,
                                   0x1F1E_1D1C_1B1A_1918, 0x2726_2524_2322_2120]

    @Test func sipHash24MatchesTheReferenceVectors() {
        #expect(key.hash(words[0]) == 0x93F5_F579_9A93_2462)
        #expect(key.hash(words[0], words[1]) == 0x3F2A_CC7F_57C2_9BDB)
        #expect(key.hash(words[0], words[1], words[2]) == 0xB8AD_50C6_F649_AF94)
        #expect(key.hash(words[0], words[1], words[2], words[3]) == 0x7127_512F_72F2_7CCE)
        #expect(key.hash(words[0], words[1], words[2], words[3], words[4]) == 0x0E3E_A96B_5304_A7D0)
    }

    @Test func sipHash13MatchesPublishedVectors() {
        // The whole 64 bits (the flow table uses the top ones); their low halves are
        // Linux's hsiphash vectors.
        #expect(key.tableHash(words[0], words[1]) == 0xCC4F_DD1A_7D90_8B66)
        #expect(key.tableHash(words[0], words[1], words[2], words[3], words[4]) == 0xC1D2_3632_99E4_1531)
    }
}
