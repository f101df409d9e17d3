/// The header fields of a response the server builds itself (static files, their
/// 304/206/416 variants, redirects, errors), written in one fixed order into a
/// caller's buffer. Used both at start-up, to pre-build cached responses, and per
/// request for the variants that depend on the request, so the two cannot drift.
///
/// Every field is a pointer to bytes the caller keeps alive (the date clock, the
/// cache's arena, literals): building a head copies bytes and allocates nothing.
public struct HTTPResponseHead {
    /// The status line's code.
    public var status: HTTPStatus
    /// The 29 bytes of the current IMF-fixdate (RFC 9110 §6.6.1: an origin server
    /// with a clock must send Date).
    public var date: UnsafeRawBufferPointer
    /// Expires as an IMF-fixdate, written right after Date so that its value lies at
    /// a fixed distance from the Date value (`expiresOffset`), to be patched alike.
    public var expires: UnsafeRawBufferPointer? = nil
    /// Complete field lines (`Name: value\r\n` each) added as they are: the
    /// configured Cache-Control and extra fields of a static file.
    public var extraFields: UnsafeRawBufferPointer? = nil
    /// The Server field's value.
    public var server: UnsafeRawBufferPointer
    /// Content-Type, if the response has content.
    public var contentType: UnsafeRawBufferPointer? = nil
    /// Content-Encoding of a precompressed variant.
    public var contentEncoding: StaticString? = nil
    /// Content-Length, if it is to be sent (304 must not have one, RFC 9110 §8.6).
    public var contentLength: Int? = nil
    /// Content-Range of a 206: first and last byte and the complete length.
    public var contentRange: (first: Int, last: Int, length: Int)? = nil
    /// Content-Range of a 416: `bytes */length` (RFC 9110 §15.5.17).
    public var unsatisfiedRangeLength: Int? = nil
    /// Last-Modified as an IMF-fixdate.
    public var lastModified: UnsafeRawBufferPointer? = nil
    /// ETag, with its quotes.
    public var etag: UnsafeRawBufferPointer? = nil
    /// Whether to send `Vary: Accept-Encoding`: the file has precompressed
    /// variants, so a cache must key its copies on the request's Accept-Encoding.
    public var varyAcceptEncoding = false
    /// Whether to send `Accept-Ranges: bytes`.
    public var acceptRanges = false
    /// Location of a redirect.
    public var location: UnsafeRawBufferPointer? = nil
    /// Allow of a 405 (RFC 9110 §15.5.6 requires it).
    public var allow: StaticString? = nil
    /// `Connection: keep-alive` or `Connection: close`. Keep-alive is sent explicitly
    /// so that one response serves HTTP/1.0 keep-alive clients as well as 1.1.
    public var keepAlive: Bool

    /// A head with the fields every response has.
    public init(status: HTTPStatus, date: UnsafeRawBufferPointer, server: UnsafeRawBufferPointer, keepAlive: Bool) {
        self.status = status
        self.date = date
        self.server = server
        self.keepAlive = keepAlive
    }

    /// Where the Expires value lies, counted from the Date value.
    public static let expiresOffset = HTTPDate.length + "\r\nExpires: ".utf8.count

    /// Writes the head, empty line included. Returns the offset of the Date value
    /// within what was written (the reason phrase's length varies with the status).
    @discardableResult
    public func write(into writer: inout HTTPByteWriter) -> Int {
        let start = writer.count
        writer.appendStatusLine(status)
        writer.append("Date: ")
        let dateOffset = writer.count - start
        writer.append(date)
        if let expires {
            writer.append("\r\nExpires: ")
            writer.append(expires)
        }
        writer.append("\r\nServer: ")
        writer.append(server)
        writer.append("\r\n")
        if let contentType {
            writer.append("Content-Type: ")
            writer.append(contentType)
            writer.append("\r\n")
        }
        if let contentEncoding {
            writer.append("Content-Encoding: ")
            writer.append(contentEncoding)
            writer.append("\r\n")
        }
        if let contentLength {
            writer.append("Content-Length: ")
            writer.append(decimal: contentLength)
            writer.append("\r\n")
        }
        if let contentRange {
            writer.append("Content-Range: bytes ")
            writer.append(decimal: contentRange.first)
            writer.append(byte: UInt8(ascii: "-"))
            writer.append(decimal: contentRange.last)
            writer.append(byte: ASCII.slash)
            writer.append(decimal: contentRange.length)
            writer.append("\r\n")
        }
        if let unsatisfiedRangeLength {
            writer.append("Content-Range: bytes */")
            writer.append(decimal: unsatisfiedRangeLength)
            writer.append("\r\n")
        }
        if let lastModified {
            writer.append("Last-Modified: ")
            writer.append(lastModified)
            writer.append("\r\n")
        }
        if let etag {
            writer.append("ETag: ")
            writer.append(etag)
            writer.append("\r\n")
        }
        if varyAcceptEncoding { writer.append("Vary: Accept-Encoding\r\n") }
        if acceptRanges { writer.append("Accept-Ranges: bytes\r\n") }
        if let location {
            writer.append("Location: ")
            writer.append(location)
            writer.append("\r\n")
        }
        if let allow {
            writer.append("Allow: ")
            writer.append(allow)
            writer.append("\r\n")
        }
        if let extraFields { writer.append(extraFields) }
        writer.append(keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n")
        return dateOffset
    }
}
