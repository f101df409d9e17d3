import Testing
@testable import MTCP

@Suite struct InternetChecksumTests {
    /// Sums bytes the slow, obvious way: 16-bit big-endian words, carries folded each step.
    static func referenceSum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for index in stride(from: 0, to: bytes.count, by: 2) {
            let low = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            sum += UInt32(bytes[index]) << 8 | low
            sum = (sum & 0xFFFF) + (sum >> 16)
        }
        return UInt16(sum)
    }

    static func checksum(_ bytes: [UInt8], after initial: InternetChecksum = InternetChecksum()) -> InternetChecksum {
        var checksum = initial
        bytes.withUnsafeBytes { checksum.add($0) }
        return checksum
    }

    @Test func rfc1071WorkedExample() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
        let sum = Self.checksum([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7])
        #expect(sum.folded == 0xDDF2)
        #expect(sum.checksum == 0x220D)
    }

    @Test func oddLengthPadsOnTheRight() {
        #expect(Self.checksum([0xAB]).folded == 0xAB00)
        #expect(Self.checksum([0xAB, 0xCD, 0xEF]).folded == 0x9ACE)  // abcd + ef00 = 1_9acd
        #expect(Self.checksum([]).folded == 0)
    }

    @Test func matchesReferenceAtEveryLength() {
        var random = SeededGenerator(seed: 1071)
        for length in 0...200 {
            for _ in 0..<4 {
                let data = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &random) }
                #expect(Self.checksum(data).folded == Self.referenceSum(data), "length \(length)")
            }
        }
        // All ones everywhere makes the most carries.
        let ones = [UInt8](repeating: 0xFF, count: 1501)
        #expect(Self.checksum(ones).folded == Self.referenceSum(ones))
    }

    /// Payloads start anywhere in an mbuf: the word loads must not care about
    /// alignment, and must not read past the end (a full-sized segment too).
    @Test func matchesReferenceAtEveryAlignment() {
        var random = SeededGenerator(seed: 791)
        let backing = (0..<1_600).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        for start in 0..<8 {
            for length in [0, 1, 2, 3, 5, 7, 9, 31, 33, 63, 65, 511, 1_459, 1_460, 1_461, 1_500, 1_591] {
                let data = Array(backing[start..<start + length])
                let sum = backing.withUnsafeBytes { all in
                    var checksum = InternetChecksum()
                    checksum.add(UnsafeRawBufferPointer(rebasing: all[start..<start + length]))
                    return checksum.folded
                }
                #expect(sum == Self.referenceSum(data), "start \(start), length \(length)")
            }
        }
    }

    @Test func piecesAtEvenOffsetsAddUp() {
        var random = SeededGenerator(seed: 7)
        let data = (0..<99).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        var pieces = InternetChecksum()
        pieces.add(UInt16(data[0]) << 8 | UInt16(data[1]))
        pieces = Self.checksum(Array(data[2..<22]), after: pieces)
        pieces = Self.checksum(Array(data[22...]), after: pieces)
        #expect(pieces.folded == Self.checksum(data).folded)
    }

    @Test func pseudoHeaderSumOfARealSegment() {
        // scapy: 198.18.0.2 -> 198.18.0.1, TCP, 40 bytes of header and options.
        let pseudo = InternetChecksum.pseudoHeaderSum(source: IPv4Address(198, 18, 0, 2),
                                                      destination: IPv4Address(198, 18, 0, 1),
                                                      protocol: .tcp, length: 40)
        let explicit: [UInt8] = [198, 18, 0, 2, 198, 18, 0, 1, 0, 6, 0, 40]
        #expect(pseudo.folded == Self.referenceSum(explicit))
        let segment = Array(RealFrames.syn[34...])
        #expect(Self.checksum(segment, after: pseudo).isValid)
    }

    @Test func realHeadersVerify() {
        let syn = RealFrames.syn
        #expect(Self.checksum(Array(syn[14..<34])).isValid)
        var header = Array(syn[14..<34])
        header[10] = 0
        header[11] = 0
        #expect(Self.checksum(header).checksum == 0x9C60)  // what scapy wrote
        let icmp = RealFrames.icmpEchoRequest
        #expect(Self.checksum(Array(icmp[34...])).isValid)
    }

    @Test func incrementalUpdateMatchesRecomputation() {
        var random = SeededGenerator(seed: 1624)
        for round in 0..<500 {
            var data = (0..<64).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            data[10] = 0
            data[11] = 0
            let original = Self.checksum(data).checksum
            // A 16-bit field and a 32-bit field at random even offsets away from the checksum.
            let offset16 = [0, 2, 4, 6, 8, 12, 20, 40, 62].randomElement(using: &random)!
            let old16 = UInt16(data[offset16]) << 8 | UInt16(data[offset16 + 1])
            let new16 = round == 0 ? old16 : UInt16.random(in: .min ... .max, using: &random)
            data[offset16] = UInt8(new16 >> 8)
            data[offset16 + 1] = UInt8(truncatingIfNeeded: new16)
            let after16 = InternetChecksum.update(original, replacing: old16, with: new16)
            #expect(after16 == Self.checksum(data).checksum, "16-bit field at \(offset16)")

            let offset32 = [0, 2, 6, 12, 14, 30, 60].randomElement(using: &random)!
            let old32 = data[offset32..<offset32 + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let new32 = UInt32.random(in: .min ... .max, using: &random)
            for index in 0..<4 { data[offset32 + index] = UInt8(truncatingIfNeeded: new32 >> UInt32(24 - 8 * index)) }
            let after32 = InternetChecksum.update(after16, replacing: old32, with: new32)
            #expect(after32 == Self.checksum(data).checksum, "32-bit field at \(offset32)")
        }
    }

    @Test func decrementingTTLOfARealHeader() {
        var header = Array(RealFrames.syn[14..<34])
        let oldWord = UInt16(header[8]) << 8 | UInt16(header[9])  // TTL and protocol share a word
        header[8] -= 1
        let newWord = UInt16(header[8]) << 8 | UInt16(header[9])
        let updated = InternetChecksum.update(0x9C60, replacing: oldWord, with: newWord)
        header[10] = UInt8(updated >> 8)
        header[11] = UInt8(truncatingIfNeeded: updated)
        #expect(Self.checksum(header).isValid)
        #expect(updated == 0x9D60)
    }
}
