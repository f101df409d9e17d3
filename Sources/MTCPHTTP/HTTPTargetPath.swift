/// The path a request-target names, percent-decoded and without dot segments, written
/// into a buffer the caller provides (no allocation): the key the static file cache
/// and the proxy routes are looked up by.
///
/// Decisions, so that one decoded path has one meaning for every component:
/// - origin-form (`/path?query`) and absolute-form (`http://host/path`, which proxies
///   may receive; the authority is dropped) give a path; asterisk-form (`*`, for
///   OPTIONS) is reported as such; authority-form (CONNECT) is `.invalid`.
/// - Decoding happens before dot-segment removal, so `%2e%2e` is `..` like `..` is.
/// - Encoded `/` (`%2F`) and any `\` (raw or `%5C`) are `.invalid`: a path with them
///   would mean one thing to our lookup and another to an upstream that decodes
///   differently (or treats `\` as a separator), which is how route checks are
///   bypassed. Decoded NUL and other control bytes are `.invalid` too: they cut C
///   strings and forge log lines.
/// - `..` that would climb above the root is `.outsideRoot` (RFC 3986 §5.2.4 would
///   silently stop at the root, hiding an attack the server should answer 403/404).
/// - Empty segments (`//`) are dropped, so `/a//b` and `/a/b` are one key; a trailing
///   `/` is kept, since it is how a directory is asked for.
public enum HTTPTargetPath: Hashable, Sendable {
    /// The normalised path is the first `length` bytes of the output; it starts with
    /// `/`. `query` is the query's span in the target (after `?`), if there is one.
    case path(length: Int, query: HTTPByteSpan?)
    /// The target was `*` (asterisk-form, RFC 9112 §3.2.4).
    case asterisk
    /// The path climbs above the root with `..`: answer 403 or 404, never serve.
    case outsideRoot
    /// Not an origin-form or absolute-form target, bad percent-encoding, a fragment,
    /// or a forbidden byte (see above): 400.
    case invalid
    /// The decoded path does not fit the output buffer: 414. (Each segment is decoded
    /// into the output before it is recognised as `.` or `..`, so the buffer needs
    /// room for the path so far plus the next segment.)
    case tooLong

    /// Normalises `target` (the request-target's bytes, as found by the parser) into
    /// `output`. Offsets in the result are relative to `target`.
    public static func normalize(_ target: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> HTTPTargetPath {
        if let length = copyIfAlreadyNormal(target, into: output) { return .path(length: length, query: nil) }
        return walk(target, into: output)
    }

    /// `normalize` for any target: segment by segment, decoding and removing dot
    /// segments as it goes.
    static func walk(_ target: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> HTTPTargetPath {
        guard !target.isEmpty else { return .invalid }
        if target.count == 1, target[0] == UInt8(ascii: "*") { return .asterisk }
        for byte in target where byte == ASCII.hash { return .invalid }  // no fragment in a request-target

        let pathStart: Int
        if target[0] == ASCII.slash {
            pathStart = 0
        } else if let authorityEnd = absoluteFormPathStart(target) {
            pathStart = authorityEnd
        } else {
            return .invalid
        }
        var pathEnd = pathStart
        while pathEnd < target.count, target[pathEnd] != ASCII.question { pathEnd += 1 }
        let query = pathEnd < target.count ? HTTPByteSpan(start: pathEnd + 1, end: target.count) : nil

        guard output.count > 0 else { return .tooLong }
        output[0] = ASCII.slash
        var written = 1
        var index = pathStart
        while index < pathEnd {
            if target[index] == ASCII.slash { index += 1; continue }
            // One segment: decode it in place at the end of the output.
            let segmentStart = written
            while index < pathEnd, target[index] != ASCII.slash {
                var byte = target[index]
                if byte == ASCII.percent {
                    guard index + 2 < pathEnd, let high = ASCII.hexValue(target[index + 1]),
                          let low = ASCII.hexValue(target[index + 2]) else { return .invalid }
                    byte = high << 4 | low
                    index += 3
                } else {
                    index += 1
                }
                guard byte >= 0x20, byte != 0x7f, byte != ASCII.slash, byte != ASCII.backslash else { return .invalid }
                guard written < output.count else { return .tooLong }
                output[written] = byte
                written += 1
            }
            let length = written - segmentStart
            if length == 1, output[segmentStart] == ASCII.dot {
                written = segmentStart
            } else if length == 2, output[segmentStart] == ASCII.dot, output[segmentStart + 1] == ASCII.dot {
                // Remove the previous segment: back to the byte after the '/' before it.
                guard segmentStart > 1 else { return .outsideRoot }
                written = segmentStart - 1
                while output[written - 1] != ASCII.slash { written -= 1 }
            } else if index < pathEnd {
                guard written < output.count else { return .tooLong }
                output[written] = ASCII.slash
                written += 1
            }
        }
        return .path(length: written, query: query)
    }

    /// The common case in one pass: an origin-form path with nothing to decode or
    /// remove (no `%`, no dot segment, no empty segment, no query or fragment, only
    /// VCHARs but `\`) is its own normal form and is copied as it is; its length,
    /// or nil when `normalize`'s general walk must decide. A `.` that starts a
    /// segment sends any path there, even `.well-known`: the walk's answer is the
    /// same, only slower. This took `normalize` from about 520 instructions to 270
    /// for `/bench/64.html` (callgrind, mtcp-httpd, kept-alive requests).
    @inline(__always)
    private static func copyIfAlreadyNormal(_ target: UnsafeRawBufferPointer,
                                            into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard target.count <= output.count, target.first == ASCII.slash,
              let source = target.baseAddress, let destination = output.baseAddress else { return nil }
        var previous = ASCII.slash
        for index in 1..<target.count {
            let byte = source.load(fromByteOffset: index, as: UInt8.self)
            guard byte &- 0x21 < 0x5E else { return nil }  // VCHAR only
            // `#`, `%`, `.`, `/`, `?` and `\` need a look: bits (byte - 0x21) of a mask.
            if (0x0800_0000_4000_6014 as UInt64) >> UInt64(byte &- 0x21) & 1 != 0 {
                switch byte {
                case ASCII.slash where previous != ASCII.slash, ASCII.dot where previous != ASCII.slash: break
                default: return nil
                }
            }
            previous = byte
        }
        destination.copyMemory(from: source, byteCount: target.count)
        return target.count
    }

    /// The authority of an absolute-form target (`http://authority/path`), nil for
    /// any other form. A proxy forwards it as Host (RFC 9112 §3.2.2: the target's
    /// authority overrides any Host field).
    public static func absoluteFormAuthority(_ target: UnsafeRawBufferPointer) -> HTTPByteSpan? {
        guard !target.isEmpty, target[0] != ASCII.slash, let pathStart = absoluteFormPathStart(target) else { return nil }
        var start = 0
        while target[start] != ASCII.colon { start += 1 }
        return HTTPByteSpan(start: start + 3, end: pathStart)
    }

    /// For `scheme://authority/path`, the offset where the path starts (it may be
    /// empty); nil when the target is not in absolute-form. Only http and https are
    /// accepted: nothing else can be routed.
    private static func absoluteFormPathStart(_ target: UnsafeRawBufferPointer) -> Int? {
        var schemeEnd = 0
        while schemeEnd < target.count, target[schemeEnd] != ASCII.colon { schemeEnd += 1 }
        let scheme = UnsafeRawBufferPointer(rebasing: target[0..<schemeEnd])
        guard ASCII.equalsIgnoringCase(scheme, "http") || ASCII.equalsIgnoringCase(scheme, "https"),
              schemeEnd + 3 <= target.count, target[schemeEnd + 1] == ASCII.slash, target[schemeEnd + 2] == ASCII.slash
        else { return nil }
        var index = schemeEnd + 3
        while index < target.count, target[index] != ASCII.slash, target[index] != ASCII.question { index += 1 }
        guard index > schemeEnd + 3 else { return nil }  // an empty authority is not a URI (RFC 9110 §4.2.1)
        return index
    }
}
