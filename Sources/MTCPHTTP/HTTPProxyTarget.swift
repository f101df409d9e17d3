/// The request-target a reverse proxy forwards: rebuilt from the normalised path
/// its route matched, never the bytes the client sent, so the upstream resolves
/// the same path the proxy routed (an absolute-form target, `..`, `%2e%2e` or
/// `//` cannot lead it elsewhere).
public enum HTTPProxyTarget {
    /// Whether a normalised `path` can be forwarded: false when a segment is a dot
    /// segment in disguise that a lax upstream would still climb with: `..;x` or
    /// `.;x` (path parameters, which Tomcat and others strip before resolving dots)
    /// or `%2e%2e` (double-encoded dots, decoded once by us, once more upstream).
    public static func isForwardable(_ path: UnsafeRawBufferPointer) -> Bool {
        var start = 0
        while start < path.count {
            var end = start
            while end < path.count, path[end] != ASCII.slash { end += 1 }
            if isDisguisedDotSegment(UnsafeRawBufferPointer(rebasing: path[start..<end])) { return false }
            start = end + 1
        }
        return true
    }

    /// Appends `path` percent-encoded where a byte is not a `pchar` or `/`
    /// (RFC 3986 §3.3), then `?` and `query` as received.
    public static func append(path: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer?,
                              into writer: inout HTTPByteWriter) {
        for byte in path {
            if isPathChar(byte) {
                writer.append(byte: byte)
            } else {
                writer.append(byte: ASCII.percent)
                writer.append(byte: hexDigit(byte >> 4))
                writer.append(byte: hexDigit(byte & 0xf))
            }
        }
        if let query {
            writer.append(byte: ASCII.question)
            writer.append(query)
        }
    }

    private static func isDisguisedDotSegment(_ segment: UnsafeRawBufferPointer) -> Bool {
        var end = 0
        while end < segment.count, segment[end] != ASCII.semicolon { end += 1 }
        var dots = 0
        var encoded = false
        var index = 0
        while index < end {
            if segment[index] == ASCII.dot {
                index += 1
            } else if index + 2 < end, segment[index] == ASCII.percent,
                      segment[index + 1] == UInt8(ascii: "2"), ASCII.toLower(segment[index + 2]) == UInt8(ascii: "e") {
                encoded = true
                index += 3
            } else {
                return false
            }
            dots += 1
        }
        return (1...2).contains(dots) && (encoded || end < segment.count)
    }

    /// pchar = unreserved / pct-encoded / sub-delims / ":" / "@" (the `%` of
    /// pct-encoded is encoded itself: the path is already decoded).
    private static func isPathChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"):
            true
        default:
            false
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 + nibble : 55 + nibble }
}
