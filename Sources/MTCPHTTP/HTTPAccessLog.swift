import Glibc

/// Access log lines in the combined log format (as Apache and nginx write it)
/// followed by the request's and the upstream's time in seconds (`rt=` and
/// `urt=`, as nginx's documented `$request_time`/`$upstream_response_time`
/// extension of it; `-` when not proxied), or as JSON lines with the same
/// times, appended to a per-core byte buffer that the caller flushes (with one
/// `write` per batch, not per request):
///
///     198.18.0.2 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 26 "-" "curl/8.0" rt=0.001 urt=-
///     {"time":"1994-11-06T08:49:37Z","client":"198.18.0.2","request":"GET / HTTP/1.1","status":200,
///      "bytes":26,"referer":null,"user_agent":"curl/8.0","request_time":0.001,"upstream_time":null}
///
/// (the JSON object on one line). Nothing is allocated per line. The timestamp is
/// formatted once per second. Bytes from the request (request line, Referer,
/// User-Agent) are escaped, so a client cannot forge log lines: in the combined
/// format as nginx does, `"`, `\`, control and non-ASCII bytes becoming `\xHH`; in
/// JSON the same bytes become `\u00HH`. Each is cut at `maxFieldBytes` so any line
/// fits an empty buffer.
public struct HTTPAccessLog: ~Copyable {
    /// The line format (`access_log_format`).
    public enum Format: String, Sendable, CaseIterable {
        case combined, json
    }

    /// Longest escaped request line, Referer or User-Agent written.
    public static let maxFieldBytes = 1024
    /// The smallest buffer accepted: room for the longest line.
    public static let minimumCapacity = 4096

    public let format: Format
    private let buffer: UnsafeMutableRawBufferPointer
    private var count = 0
    private var timeSecond: Int64 = -1
    // "[06/Nov/1994:08:49:37 +0000]" (28 bytes) or "1994-11-06T08:49:37Z" (20) in inline storage.
    private var time: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var timeLength = 0

    /// A log buffer of `capacity` bytes (allocated once, here).
    public init(capacity: Int = 64 << 10, format: Format = .combined) {
        precondition(capacity >= Self.minimumCapacity, "access log buffer too small")
        self.format = format
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// The lines appended since the last `removeAll`.
    public var pending: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<count]) }

    /// Forgets the pending lines (after the caller wrote them out).
    public mutating func removeAll() { count = 0 }

    /// Appends one line. Returns false, writing nothing, when the buffer has no room
    /// left for it: flush, `removeAll`, and append again.
    ///
    /// - Parameters:
    ///   - client: the client's address, of either family.
    ///   - now: the time of the request, seconds since 1970 (the date clock's second).
    ///   - requestLine: the request line as received (`HTTPRequestHead.requestLine`),
    ///     empty when the request was refused before it was complete (logged as `-`).
    ///   - status: the status sent.
    ///   - bytes: content bytes sent (`-` when zero, as in the format).
    ///   - requestMilliseconds: from the request's first byte to its response
    ///     being chosen.
    ///   - upstreamMilliseconds: from the request going upstream to the
    ///     upstream's answer or failure; nil when not proxied.
    public mutating func append(client: HTTPPeerAddress, now: Int64, requestLine: UnsafeRawBufferPointer,
                                status: HTTPStatus, bytes: Int, referer: UnsafeRawBufferPointer?,
                                userAgent: UnsafeRawBufferPointer?, requestMilliseconds: Int = 0,
                                upstreamMilliseconds: Int? = nil) -> Bool {
        if now != timeSecond { formatTime(now) }
        var writer = HTTPByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[count...]))
        switch format {
        case .combined:
            appendCombined(client: client, requestLine: requestLine, status: status, bytes: bytes, referer: referer,
                           userAgent: userAgent, to: &writer)
            writer.append(" rt=")
            Self.appendSeconds(milliseconds: requestMilliseconds, to: &writer)
            writer.append(" urt=")
            Self.appendSeconds(milliseconds: upstreamMilliseconds, absent: "-", to: &writer)
            writer.append(byte: ASCII.lf)
        case .json:
            writer.append("{\"time\":\"")
            appendTime(to: &writer)
            writer.append("\",\"client\":\"")
            writer.append(peerAddress: client)
            writer.append("\",\"request\":")
            Self.appendJSONString(requestLine, to: &writer)
            writer.append(",\"status\":")
            writer.append(decimal: Int(status.rawValue))
            writer.append(",\"bytes\":")
            writer.append(decimal: bytes)
            writer.append(",\"referer\":")
            Self.appendJSONString(referer, to: &writer)
            writer.append(",\"user_agent\":")
            Self.appendJSONString(userAgent, to: &writer)
            writer.append(",\"request_time\":")
            Self.appendSeconds(milliseconds: requestMilliseconds, to: &writer)
            writer.append(",\"upstream_time\":")
            Self.appendSeconds(milliseconds: upstreamMilliseconds, absent: "null", to: &writer)
            writer.append("}\n")
        }
        guard !writer.overflowed else { return false }
        count += writer.count
        return true
    }

    /// `append` for an IPv4 client given as its 32 bits.
    public mutating func append(client: UInt32, now: Int64, requestLine: UnsafeRawBufferPointer, status: HTTPStatus,
                                bytes: Int, referer: UnsafeRawBufferPointer?, userAgent: UnsafeRawBufferPointer?,
                                requestMilliseconds: Int = 0, upstreamMilliseconds: Int? = nil) -> Bool {
        append(client: HTTPPeerAddress(ipv4: client), now: now, requestLine: requestLine, status: status, bytes: bytes,
               referer: referer, userAgent: userAgent, requestMilliseconds: requestMilliseconds,
               upstreamMilliseconds: upstreamMilliseconds)
    }

    private func appendTime(to writer: inout HTTPByteWriter) {
        withUnsafeBytes(of: time) { writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<timeLength])) }
    }

    private func appendCombined(client: HTTPPeerAddress, requestLine: UnsafeRawBufferPointer, status: HTTPStatus, bytes: Int,
                                referer: UnsafeRawBufferPointer?, userAgent: UnsafeRawBufferPointer?,
                                to writer: inout HTTPByteWriter) {
        writer.append(peerAddress: client)
        writer.append(" - - ")
        appendTime(to: &writer)
        writer.append(" \"")
        Self.appendCombinedField(requestLine, to: &writer)
        writer.append("\" ")
        writer.append(decimal: Int(status.rawValue))
        writer.append(byte: ASCII.space)
        if bytes > 0 { writer.append(decimal: bytes) } else { writer.append(byte: UInt8(ascii: "-")) }
        writer.append(" \"")
        Self.appendCombinedField(referer, to: &writer)
        writer.append("\" \"")
        Self.appendCombinedField(userAgent, to: &writer)
        writer.append(byte: ASCII.quote)
    }

    /// A JSON string of `bytes` (null when absent or empty), escaped byte by
    /// byte: a byte that is not printable ASCII, `"` or `\` becomes `\u00HH`.
    private static func appendJSONString(_ bytes: UnsafeRawBufferPointer?, to writer: inout HTTPByteWriter) {
        guard let bytes, !bytes.isEmpty else { return writer.append("null") }
        writer.append(byte: ASCII.quote)
        appendEscaped(bytes, escapePrefix: "\\u00", to: &writer)
        writer.append(byte: ASCII.quote)
    }

    /// `milliseconds` as seconds, or `absent` for none (nothing was proxied).
    private static func appendSeconds(milliseconds: Int?, absent: StaticString, to writer: inout HTTPByteWriter) {
        guard let milliseconds else { return writer.append(absent) }
        appendSeconds(milliseconds: milliseconds, to: &writer)
    }

    /// `milliseconds` as seconds with three decimals, as nginx's `$request_time`.
    private static func appendSeconds(milliseconds: Int, to writer: inout HTTPByteWriter) {
        let value = max(milliseconds, 0)
        writer.append(decimal: value / 1000)
        writer.append(byte: ASCII.dot)
        let fraction = value % 1000
        writer.append(byte: UInt8(48 + fraction / 100))
        writer.append(byte: UInt8(48 + fraction / 10 % 10))
        writer.append(byte: UInt8(48 + fraction % 10))
    }

    private static func appendHexDigits(_ byte: UInt8, to writer: inout HTTPByteWriter) {
        let digits: StaticString = "0123456789ABCDEF"
        writer.append(byte: digits.utf8Start[Int(byte >> 4)])
        writer.append(byte: digits.utf8Start[Int(byte & 0xf)])
    }

    /// Writes the pending lines to `descriptor` and forgets them; false on a write
    /// error (the lines are dropped either way: a log must not stall the server).
    public mutating func flush(to descriptor: Int32) -> Bool {
        var done = 0
        defer { count = 0 }
        while done < count {
            let written = write(descriptor, buffer.baseAddress! + done, count - done)
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return false }
            done += written
        }
        return true
    }

    /// `bytes` cut at `maxFieldBytes`, a byte that is not printable ASCII, `"` or
    /// `\` written as `escapePrefix` and its two hex digits.
    private static func appendEscaped(_ bytes: UnsafeRawBufferPointer, escapePrefix: StaticString,
                                      to writer: inout HTTPByteWriter) {
        let escapedWidth = escapePrefix.utf8CodeUnitCount + 2
        var written = 0
        for byte in bytes {
            let plain = byte >= 0x20 && byte < 0x7f && byte != ASCII.quote && byte != ASCII.backslash
            written += plain ? 1 : escapedWidth
            if written > maxFieldBytes { break }
            if plain {
                writer.append(byte: byte)
            } else {
                writer.append(escapePrefix)
                appendHexDigits(byte, to: &writer)
            }
        }
    }

    /// A field of the combined format: `-` when absent or empty, else escaped as nginx does.
    private static func appendCombinedField(_ bytes: UnsafeRawBufferPointer?, to writer: inout HTTPByteWriter) {
        guard let bytes, !bytes.isEmpty else { return writer.append(byte: UInt8(ascii: "-")) }
        appendEscaped(bytes, escapePrefix: "\\x", to: &writer)
    }

    /// `[dd/Mon/yyyy:hh:mm:ss +0000]` (combined) or `yyyy-mm-ddThh:mm:ssZ`
    /// (JSON, RFC 3339): the times are UTC, like the Date field.
    private mutating func formatTime(_ now: Int64) {
        timeSecond = now
        let clamped = max(now, 0)
        let (year, month, day) = HTTPDate.civilDate(days: clamped / 86400)
        let second = Int(clamped % 86400)
        let format = format
        timeLength = withUnsafeMutableBytes(of: &time) { raw in
            var writer = HTTPByteWriter(raw)
            guard format == .combined else {
                Self.append2(Int(year / 100 % 100), &writer)
                Self.append2(Int(year % 100), &writer)
                writer.append(byte: UInt8(ascii: "-"))
                Self.append2(month, &writer)
                writer.append(byte: UInt8(ascii: "-"))
                Self.append2(day, &writer)
                writer.append(byte: UInt8(ascii: "T"))
                Self.appendClock(second, &writer)
                writer.append(byte: UInt8(ascii: "Z"))
                return writer.count
            }
            writer.append(byte: UInt8(ascii: "["))
            Self.append2(day, &writer)
            writer.append(byte: ASCII.slash)
            let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
            writer.append(UnsafeRawBufferPointer(start: months.utf8Start + 3 * (month - 1), count: 3))
            writer.append(byte: ASCII.slash)
            Self.append2(Int(year / 100 % 100), &writer)
            Self.append2(Int(year % 100), &writer)
            writer.append(byte: ASCII.colon)
            Self.appendClock(second, &writer)
            writer.append(" +0000]")
            return writer.count
        }
    }

    /// `hh:mm:ss` of the `second` of a day.
    private static func appendClock(_ second: Int, _ writer: inout HTTPByteWriter) {
        append2(second / 3600, &writer)
        writer.append(byte: ASCII.colon)
        append2(second / 60 % 60, &writer)
        writer.append(byte: ASCII.colon)
        append2(second % 60, &writer)
    }

    private static func append2(_ value: Int, _ writer: inout HTTPByteWriter) {
        writer.append(byte: UInt8(48 + value / 10))
        writer.append(byte: UInt8(48 + value % 10))
    }
}
