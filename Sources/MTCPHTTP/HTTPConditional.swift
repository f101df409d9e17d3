import Glibc

/// Evaluation of conditional requests (RFC 9110 §13) and of the Range field
/// (RFC 9110 §14) against a representation's validators, over the raw field values.
public enum HTTPConditional {
    /// Whether an If-None-Match value matches `etag` (with its quotes) by the weak
    /// comparison §13.1.2 prescribes for this field: `W/` prefixes are ignored on both
    /// sides, `*` matches any current representation. Entity-tags are read as such,
    /// not split on commas, since a comma may occur inside the quotes.
    public static func noneMatch(_ value: UnsafeRawBufferPointer, matches etag: UnsafeRawBufferPointer) -> Bool {
        let tag = opaqueTag(etag)
        var index = 0
        while index < value.count {
            let byte = value[index]
            if byte == ASCII.comma || ASCII.isWhitespace(byte) { index += 1; continue }
            if byte == UInt8(ascii: "*") { return true }
            if byte == UInt8(ascii: "W"), index + 1 < value.count, value[index + 1] == ASCII.slash { index += 2 }
            guard index < value.count, value[index] == ASCII.quote else { return false }  // malformed: no match
            var end = index + 1
            while end < value.count, value[end] != ASCII.quote { end += 1 }
            guard end < value.count else { return false }
            let candidate = UnsafeRawBufferPointer(rebasing: value[index...end])
            if candidate.count == tag.count, memcmp(candidate.baseAddress!, tag.baseAddress!, tag.count) == 0 {
                return true
            }
            index = end + 1
        }
        return false
    }

    /// Whether If-Modified-Since lets the server answer 304: the value is a valid
    /// HTTP-date, not in the future (§13.1.3 makes a date later than the server's
    /// clock invalid), and the representation was not modified after it.
    public static func notModified(since value: UnsafeRawBufferPointer, lastModified: Int64, now: Int64) -> Bool {
        guard let since = HTTPDate.parse(value, now: now), since <= now else { return false }
        return lastModified <= since
    }

    /// Whether If-Range (§13.1.5) allows the Range to be honoured: an entity-tag must
    /// match strongly (a weak one never does), a date must equal Last-Modified exactly.
    public static func ifRange(_ value: UnsafeRawBufferPointer, etag: UnsafeRawBufferPointer, lastModified: Int64,
                               now: Int64) -> Bool {
        if let first = value.first, first == ASCII.quote {
            return value.count == etag.count && memcmp(value.baseAddress!, etag.baseAddress!, etag.count) == 0
        }
        return HTTPDate.parse(value, now: now) == lastModified
    }

    private static func opaqueTag(_ etag: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if etag.count >= 2, etag[0] == UInt8(ascii: "W"), etag[1] == ASCII.slash {
            return UnsafeRawBufferPointer(rebasing: etag[2...])
        }
        return etag
    }
}

/// What a Range field asks of a representation of a known length (RFC 9110 §14.2).
public enum HTTPRangeRequest: Hashable, Sendable {
    /// Serve the whole representation with 200: the field is absent, not a valid
    /// `bytes` range, or asks for several ranges. Multiple ranges would need a
    /// multipart/byteranges body; §14.2 lets a server ignore Range, and serving the
    /// whole once costs less than many parts (and defuses overlapping-range attacks).
    case whole
    /// Serve bytes `first...last` with 206.
    case satisfiable(first: Int, last: Int)
    /// No byte of the representation is in the range: 416 with `bytes */length`.
    case unsatisfiable

    /// Interprets a Range value: `bytes=a-b`, `bytes=a-` or `bytes=-n` (unit
    /// case-insensitive, §14.1).
    public init(_ value: UnsafeRawBufferPointer, length: Int) {
        self = .whole
        guard value.count > 6, ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: value[0..<5]), "bytes"),
              value[5] == UInt8(ascii: "=") else { return }
        var specs = 0
        var spec = UnsafeRawBufferPointer(rebasing: value[6...])
        ASCII.forEachListElement(UnsafeRawBufferPointer(rebasing: value[6...])) { element in
            specs += 1
            spec = element
            return specs < 2
        }
        guard specs == 1 else { return }
        var dash = 0
        while dash < spec.count, spec[dash] != UInt8(ascii: "-") { dash += 1 }
        guard dash < spec.count else { return }
        let first = Self.number(UnsafeRawBufferPointer(rebasing: spec[0..<dash]))
        let last = Self.number(UnsafeRawBufferPointer(rebasing: spec[(dash + 1)...]))
        switch (first, last) {
        case (.some(let first), .some(let last)):
            guard first <= last else { return }  // invalid: ignored (§14.1.1)
            self = first < length ? .satisfiable(first: first, last: min(last, length - 1)) : .unsatisfiable
        case (.some(let first), .none) where dash == spec.count - 1:
            self = first < length ? .satisfiable(first: first, last: length - 1) : .unsatisfiable
        case (.none, .some(let suffix)) where dash == 0:
            self = suffix > 0 && length > 0 ? .satisfiable(first: max(0, length - suffix), last: length - 1)
                : .unsatisfiable
        default:
            return
        }
    }

    /// 1*DIGIT, saturating (a huge position is simply beyond the end); nil if not digits.
    private static func number(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard ASCII.isDigit(byte) else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(byte - 48))
            value = overflow1 || overflow2 ? Int.max : sum
        }
        return value
    }
}
