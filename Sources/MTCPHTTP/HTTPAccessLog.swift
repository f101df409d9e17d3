import Glibc

/// Access log lines in the combined log format (as Apache and nginx write it),
/// appended to a per-core byte buffer that the caller flushes (with one `write` per
/// batch, not per request):
///
///     198.18.0.2 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 26 "-" "curl/8.0"
///
/// Nothing is allocated per line. The timestamp is formatted once per second. Bytes
/// from the request (request line, Referer, User-Agent) are escaped as nginx does,
/// `"`, `\`, control and non-ASCII bytes becoming `\xHH`, so a client cannot forge
/// log lines; each is cut at `maxFieldBytes` so any line fits an empty buffer.
public struct HTTPAccessLog: ~Copyable {
    /// Longest escaped request line, Referer or User-Agent written.
    public static let maxFieldBytes = 1024
    /// The smallest buffer accepted: room for the longest line.
    public static let minimumCapacity = 4096

    private let buffer: UnsafeMutableRawBufferPointer
    private var count = 0
    private var timeSecond: Int64 = -1
    // "[06/Nov/1994:08:49:37 +0000]" (28 bytes) in inline storage.
    private var time: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// A log buffer of `capacity` bytes (allocated once, here).
    public init(capacity: Int = 64 << 10) {
        precondition(capacity >= Self.minimumCapacity, "access log buffer too small")
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
    ///   - client: the client's IPv4 address, most significant byte first.
    ///   - now: the time of the request, seconds since 1970 (the date clock's second).
    ///   - requestLine: the request line as received (`HTTPRequestHead.requestLine`),
    ///     empty when the request was refused before it was complete (logged as `-`).
    ///   - status: the status sent.
    ///   - bytes: content bytes sent (`-` when zero, as in the format).
    public mutating func append(client: UInt32, now: Int64, requestLine: UnsafeRawBufferPointer, status: HTTPStatus,
                                bytes: Int, referer: UnsafeRawBufferPointer?,
                                userAgent: UnsafeRawBufferPointer?) -> Bool {
        if now != timeSecond { formatTime(now) }
        var writer = HTTPByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[count...]))
        var shift: UInt32 = 24
        while true {
            writer.append(decimal: Int(client >> shift & 0xff))
            if shift == 0 { break }
            writer.append(byte: ASCII.dot)
            shift -= 8
        }
        writer.append(" - - ")
        withUnsafeBytes(of: time) { writer.append(UnsafeRawBufferPointer(rebasing: $0[0..<28])) }
        writer.append(" \"")
        Self.appendEscaped(requestLine, to: &writer)
        writer.append("\" ")
        writer.append(decimal: Int(status.rawValue))
        writer.append(byte: ASCII.space)
        if bytes > 0 { writer.append(decimal: bytes) } else { writer.append(byte: UInt8(ascii: "-")) }
        writer.append(" \"")
        Self.appendEscaped(referer ?? UnsafeRawBufferPointer(start: nil, count: 0), to: &writer)
        writer.append("\" \"")
        Self.appendEscaped(userAgent ?? UnsafeRawBufferPointer(start: nil, count: 0), to: &writer)
        writer.append("\"\n")
        guard !writer.overflowed else { return false }
        count += writer.count
        return true
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

    private static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to writer: inout HTTPByteWriter) {
        guard !bytes.isEmpty else { return writer.append(byte: UInt8(ascii: "-")) }
        var written = 0
        let digits: StaticString = "0123456789ABCDEF"
        for byte in bytes {
            let plain = byte >= 0x20 && byte < 0x7f && byte != ASCII.quote && byte != ASCII.backslash
            written += plain ? 1 : 4
            if written > maxFieldBytes { break }
            if plain {
                writer.append(byte: byte)
            } else {
                writer.append("\\x")
                writer.append(byte: digits.utf8Start[Int(byte >> 4)])
                writer.append(byte: digits.utf8Start[Int(byte & 0xf)])
            }
        }
    }

    /// `[dd/Mon/yyyy:hh:mm:ss +0000]`: the times are UTC, like the Date field.
    private mutating func formatTime(_ now: Int64) {
        timeSecond = now
        let clamped = max(now, 0)
        let (year, month, day) = HTTPDate.civilDate(days: clamped / 86400)
        let second = Int(clamped % 86400)
        withUnsafeMutableBytes(of: &time) { raw in
            var writer = HTTPByteWriter(raw)
            writer.append(byte: UInt8(ascii: "["))
            Self.append2(day, &writer)
            writer.append(byte: ASCII.slash)
            let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
            writer.append(UnsafeRawBufferPointer(start: months.utf8Start + 3 * (month - 1), count: 3))
            writer.append(byte: ASCII.slash)
            Self.append2(Int(year / 100 % 100), &writer)
            Self.append2(Int(year % 100), &writer)
            writer.append(byte: ASCII.colon)
            Self.append2(second / 3600, &writer)
            writer.append(byte: ASCII.colon)
            Self.append2(second / 60 % 60, &writer)
            writer.append(byte: ASCII.colon)
            Self.append2(second % 60, &writer)
            writer.append(" +0000]")
        }
    }

    private static func append2(_ value: Int, _ writer: inout HTTPByteWriter) {
        writer.append(byte: UInt8(48 + value / 10))
        writer.append(byte: UInt8(48 + value % 10))
    }
}
