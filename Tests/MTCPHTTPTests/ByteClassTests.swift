import Testing
@testable import MTCPHTTP

/// The parsers' byte classes. `ASCII.firstNonFieldValueChar` tests eight bytes at
/// a time: it must find what a byte-by-byte scan finds, for every byte value at
/// every position of a word and across the tail that does not fill one.
@Suite struct ByteClassTests {
    @Test func tokenCharsAreExactlyRFC9110s() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in 0...255 {
            #expect(ASCII.isTokenChar(UInt8(byte)) == tchar.contains(UInt8(byte)), "byte \(byte)")
        }
    }

    @Test func hostCharsAreExactlyThoseOfRegNamesAddressesAndPorts() {
        let host = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:[]".utf8)
        for byte in 0...255 {
            #expect(ASCII.isHostChar(UInt8(byte)) == host.contains(UInt8(byte)), "byte \(byte)")
        }
    }

    /// The word-at-a-time comparison of a field name agrees with the byte-by-byte
    /// one for every token: each name with every tchar at every position, and the
    /// name with its length one off.
    @Test func tokenComparisonAgreesWithTheBytewiseOneForEveryTchar() {
        let tchars = (0...255).map(UInt8.init).filter(ASCII.isTokenChar)
        let names: [StaticString] = ["a", "te", "via", "host", "range", "expect", "referer", "if-range", "x-forwarded",
                                     "content-length", "transfer-encoding", "proxy-authorization-x"]
        var mismatches: [String] = []
        for name in names {
            let expected = Array(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            let upperCase = expected.map { $0 &- 0x61 < 26 ? $0 - 0x20 : $0 }
            var candidates = [upperCase, Array(expected.dropLast()), expected + [0x61]]
            for position in expected.indices {
                for byte in tchars {
                    var token = expected
                    token[position] = byte
                    candidates.append(token)
                }
            }
            for token in candidates {
                let (fast, slow) = token.withUnsafeBytes {
                    (ASCII.tokenEqualsIgnoringCase($0, name), ASCII.equalsIgnoringCase($0, name))
                }
                if fast != slow { mismatches.append("\(token) against \(name)") }
            }
        }
        let firstFew = mismatches.prefix(5)
        #expect(mismatches.count == 0, "\(firstFew)")
    }

    /// `tokenEnd` tests eight bytes at a time for letters and `-`: it must stop
    /// where a byte-by-byte scan stops, for every byte value at every position,
    /// over letters of both cases and dashes, from several starts.
    @Test func tokenEndStopsWhereTheBytewiseScanStops() {
        var mismatches: [String] = []
        for background in Array("aZ-".utf8) {
            for length in [1, 7, 8, 9, 15, 16, 17, 24] {
                for position in 0..<length {
                    for value in 0...255 {
                        var bytes = [UInt8](repeating: background, count: length)
                        bytes[position] = UInt8(value)
                        for start in [0, 1, 3] where start <= length {
                            let found = bytes.withUnsafeBytes { ASCII.tokenEnd(in: $0, from: start, to: length) }
                            let expected = (start..<length).first { !ASCII.isTokenChar(bytes[$0]) } ?? length
                            if found != expected { mismatches.append("\(bytes) from \(start)") }
                        }
                    }
                }
            }
        }
        let firstFew = mismatches.prefix(5)
        #expect(mismatches.count == 0, "\(firstFew)")
    }

    /// The first byte in `start..<end` that is no field-value byte, one at a time.
    private func bytewise(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Int {
        (start..<end).first { !ASCII.isFieldValueChar(bytes[$0]) } ?? end
    }

    @Test func everyByteValueAtEveryPositionIsFoundAsOneByOneFindsIt() {
        for length in [1, 7, 8, 9, 17, 24] {
            for position in 0..<length {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[position] = UInt8(value)
                    let found = bytes.withUnsafeBytes { ASCII.firstNonFieldValueChar(in: $0, from: 0, to: length) }
                    #expect(found == bytewise(bytes, 0, length), "byte \(value) at \(position) of \(length)")
                }
            }
        }
    }

    @Test func everyPairOfByteValuesInOneWordIsFoundAsOneByOneFindsIt() {
        // Two bytes of one word take every pair of values, over a background of
        // letters and of obs-text (bytes above 0x7F, allowed): a borrow from one
        // must never hide the other.
        var mismatches: [String] = []
        for background in [UInt8(ascii: "a"), 0xFF] {
            for first in 0...255 {
                for second in 0...255 {
                    var bytes = [UInt8](repeating: background, count: 8)
                    bytes[1] = UInt8(first)
                    bytes[6] = UInt8(second)
                    let found = bytes.withUnsafeBytes { ASCII.firstNonFieldValueChar(in: $0, from: 0, to: 8) }
                    if found != bytewise(bytes, 0, 8) { mismatches.append("\(bytes)") }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func mixedWordsAndOffsetStartsAgreeWithTheBytewiseScan() {
        // Deterministic mixtures of allowed bytes (HTAB, SP, VCHAR, obs-text) with the
        // occasional control byte or DEL, scanned from ten starts to five ends each.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200 {
            let bytes: [UInt8] = (0..<40).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let pick = Int(state >> 58)
                switch pick {
                case 0: return 0x7F
                case 1: return UInt8((state >> 40) & 0x1F)  // a control byte, HTAB among them
                case 2: return 0x09
                case 3...10: return 0x80 | UInt8((state >> 32) & 0x7F)
                default: return 0x20 + UInt8((state >> 32) % 0x5F)
                }
            }
            for start in 0..<10 {
                for end in [start, start + 3, start + 8, 33, 40] where end <= bytes.count {
                    let found = bytes.withUnsafeBytes { ASCII.firstNonFieldValueChar(in: $0, from: start, to: end) }
                    #expect(found == bytewise(bytes, start, end), "\(bytes) from \(start) to \(end)")
                }
            }
        }
    }
}
