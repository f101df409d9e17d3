/// Byte classes and comparisons of the HTTP grammar (RFC 9110 §5.6), as branch-light
/// functions over `UInt8` so that the parsers never build a `String`.
@usableFromInline
enum ASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58
    static let comma: UInt8 = 44
    static let slash: UInt8 = 47
    static let backslash: UInt8 = 92
    static let percent: UInt8 = 37
    static let question: UInt8 = 63
    static let hash: UInt8 = 35
    static let dot: UInt8 = 46
    static let semicolon: UInt8 = 59
    static let quote: UInt8 = 34

    /// `tchar` (RFC 9110 §5.6.2). Letters and `-`, nearly every byte of a field
    /// name, take one compare each; the rest are two 64-bit masks (a shift and a
    /// test, not a table lookup through a global array). Letters first made the
    /// load generator's response parsing about 700 instructions cheaper than the
    /// masks alone (callgrind, eight field names a response).
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        if (byte | 0x20) &- 0x61 < 26 || byte == 0x2D { return true }
        if byte < 64 { return (0x03ff_6cfa_0000_0000 as UInt64) >> UInt64(byte) & 1 != 0 }
        if byte < 128 { return (0x57ff_ffff_c7ff_fffe as UInt64) >> UInt64(byte &- 64) & 1 != 0 }
        return false
    }

    /// The index of the first byte of `bytes[start..<end]` that is no `tchar`, or
    /// `end`: where a field name stops. Field names are nearly all letters and
    /// `-`, so eight bytes are tested at once for being only those; the first
    /// byte that is not starts a byte-by-byte look (a digit or another tchar is
    /// passed and the word test resumes after it). For the load generator's
    /// responses, eight names a head, the byte loop was its parser's largest cost.
    @inline(__always)
    static func tokenEnd(in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        let base = bytes.baseAddress.unsafelyUnwrapped
        var index = start
        while index &+ 8 <= end {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let lettersOrDashes = lettersOrDashBytes(word)
            if lettersOrDashes == 0x8080_8080_8080_8080 {
                index &+= 8
                continue
            }
            // Loaded little-endian, the first byte in memory is the lowest of the word.
            index &+= (~lettersOrDashes & 0x8080_8080_8080_8080).trailingZeroBitCount >> 3
            guard isTokenChar(bytes[index]) else { return index }
            index &+= 1
        }
        while index < end, isTokenChar(bytes[index]) { index &+= 1 }
        return index
    }

    /// The high bit of each byte of `word` (loaded little-endian) that is an ASCII
    /// letter or `-`, and no other bit. Bytes are compared with 0x7F-masked
    /// copies, so no addition carries into the next byte; a byte with its own
    /// high bit set is no letter.
    @inline(__always)
    private static func lettersOrDashBytes(_ word: UInt64) -> UInt64 {
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let lowBits: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let folded = (word | 0x2020_2020_2020_2020) & lowBits
        let atLeastA = folded &+ 0x1F1F_1F1F_1F1F_1F1F  // high bit: folded >= 0x61
        let pastZ = folded &+ 0x0505_0505_0505_0505  // high bit: folded >= 0x7B
        let letters = atLeastA & ~pastZ & ~word
        let dashDifference = word ^ 0x2D2D_2D2D_2D2D_2D2D
        let dashes = ~(((dashDifference & lowBits) &+ lowBits) | dashDifference)
        return (letters | dashes) & highBits
    }

    /// A byte of a Host value (`HTTPRequestParser.isValidHost`): letters, digits
    /// and `-._~%!$&'()*+,;=:[]`, the characters of a reg-name, an IPv4 address,
    /// a bracketed IPv6 literal and a port. Masks as in `isTokenChar`: about 10
    /// instructions a byte where a switch over the set took about 15 (callgrind).
    @inline(__always)
    static func isHostChar(_ byte: UInt8) -> Bool {
        if byte < 64 { return (0x2fff_7ff2_0000_0000 as UInt64) >> UInt64(byte) & 1 != 0 }
        if byte < 128 { return (0x47ff_fffe_afff_fffe as UInt64) >> UInt64(byte &- 64) & 1 != 0 }
        return false
    }

    /// A byte allowed inside a field value (RFC 9110 §5.5: VCHAR, obs-text, SP, HTAB).
    /// Everything else is a control character; NUL, CR and LF in particular must be
    /// refused because they are how header injection and smuggling are done.
    @inline(__always)
    static func isFieldValueChar(_ byte: UInt8) -> Bool {
        byte >= 0x20 ? byte != 0x7f : byte == tab
    }

    /// The index of the first byte of `bytes[start..<end]` that is no field-value
    /// byte (`isFieldValueChar`), or `end`. Eight bytes at a time: a word with no
    /// byte below 0x20 and none equal to 0x7F is passed at once; a word the test
    /// flags is looked at byte by byte. The two word tests (Bit Twiddling Hacks'
    /// `hasless` and `haszero`) never miss such a byte (a borrow starts only at
    /// one), and flag a word holding none only for an HTAB, which is allowed and
    /// then passes the byte-by-byte look. Field values are most of a head's bytes,
    /// and one test a byte was the parsers' largest cost after the checksum. The
    /// bytes after the last whole word are tested as the word that ends at `end`
    /// when the range holds one (its first bytes were already passed): values of
    /// 9 to 15 bytes, a Host or a User-Agent, then take two tests, not up to nine.
    @inline(__always)
    static func firstNonFieldValueChar(in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int {
        let base = bytes.baseAddress.unsafelyUnwrapped
        var index = start
        while index &+ 8 <= end {
            if mayHoldNonFieldValueChar(base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { break }
            index &+= 8
        }
        if index < end, end &- start >= 8, index &+ 8 > end,
           !mayHoldNonFieldValueChar(base.loadUnaligned(fromByteOffset: end &- 8, as: UInt64.self)) {
            return end
        }
        while index < end, isFieldValueChar(bytes[index]) { index &+= 1 }
        return index
    }

    /// Whether one of the word's eight bytes may be no field-value byte: always
    /// when one is below 0x20 or is 0x7F, and otherwise never (see above).
    @inline(__always)
    private static func mayHoldNonFieldValueChar(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let belowSpace = (word &- ones &* 0x20) & ~word & highBits
        let delete = word ^ (ones &* 0x7F)
        let isDelete = (delete &- ones) & ~delete & highBits
        return belowSpace | isDelete != 0
    }

    /// A byte allowed in a request-target: VCHAR only (RFC 3986 has no raw space,
    /// control or non-ASCII byte in a URI).
    @inline(__always)
    static func isTargetChar(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7f }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- 48 < 10 }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// The value of a hexadecimal digit, or nil.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        if byte &- 48 < 10 { return byte &- 48 }
        let lower = byte | 0x20
        if lower &- 97 < 6 { return lower &- 87 }
        return nil
    }

    /// Whether `bytes` equal `lowercase` ignoring ASCII case; `lowercase` must be in
    /// lower case. Only letters are folded, so no punctuation or control byte can
    /// pass for another one.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count where toLower(bytes[index]) != expected[index] {
            return false
        }
        return true
    }

    /// `equalsIgnoringCase` for a token (`bytes` all `tchar`, as field names are
    /// once parsed) against a lower-case name of letters, digits and `-`: a word
    /// at a time, each byte with 0x20 set. For a tchar that is exact: only the
    /// letter itself in either case, or the same digit or `-`, has the expected
    /// byte once 0x20 is set (`_` becomes DEL, `^` becomes `~`, neither in such a
    /// name). Words overlap at the end instead of a byte loop for the rest.
    @inline(__always)
    static func tokenEqualsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = bytes.count
        guard count == lowercase.utf8CodeUnitCount else { return false }
        // Outside a token the folding is not exact (CR would match `-`).
        assert(bytes.allSatisfy(isTokenChar), "tokenEqualsIgnoringCase compares tokens only")
        let token = bytes.baseAddress.unsafelyUnwrapped
        let expected = UnsafeRawPointer(lowercase.utf8Start)
        @inline(__always) func same<Word: FixedWidthInteger>(_: Word.Type, at offset: Int) -> Bool {
            let folded = token.loadUnaligned(fromByteOffset: offset, as: Word.self) | (Word.max / 0xFF &* 0x20)
            return folded == expected.loadUnaligned(fromByteOffset: offset, as: Word.self)
        }
        if count >= 8 {
            var offset = 0
            while offset &+ 8 < count {
                guard same(UInt64.self, at: offset) else { return false }
                offset &+= 8
            }
            return same(UInt64.self, at: count &- 8)
        }
        if count >= 4 { return same(UInt32.self, at: 0) && same(UInt32.self, at: count &- 4) }
        for index in 0..<count where bytes[index] | 0x20 != expected.load(fromByteOffset: index, as: UInt8.self) {
            return false
        }
        return true
    }

    /// The byte with an upper-case letter mapped to lower case.
    @inline(__always)
    static func toLower(_ byte: UInt8) -> UInt8 { byte &- 65 < 26 ? byte | 0x20 : byte }

    /// `bytes` without leading and trailing SP/HTAB (OWS, RFC 9110 §5.6.3).
    @inline(__always)
    static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, isWhitespace(bytes[start]) { start += 1 }
        while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1),
    /// trimmed of OWS, skipping empty elements as recipients must. Stops early when
    /// `body` returns false.
    @inline(__always)
    static func forEachListElement(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) {
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != comma { end += 1 }
            let element = trimmingWhitespace(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            if !element.isEmpty, !body(element) { return }
            start = end + 1
        }
    }
}
