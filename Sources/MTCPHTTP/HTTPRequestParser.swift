import Glibc

/// An incremental HTTP/1.1 request-head parser (RFC 9112) over bytes the caller
/// accumulates in its own buffer.
///
/// The caller appends received bytes to a per-connection buffer and calls `parse`
/// with the whole buffer (from the request's first byte) each time; the parser
/// resumes at the line it stopped in, so total work stays linear however the bytes
/// are split. Results are offsets into that buffer, nothing is copied and nothing is
/// allocated. The state is a value of a few hundred bytes that lives in the
/// connection.
///
/// Work is done a line at a time: the parser looks for LF with `memchr` and only
/// interprets a line once it is complete, so a half-received line is never looked at
/// twice. Two checks run on incomplete lines so that a bad peer is answered without
/// waiting: the method token (a TLS handshake or binary junk sent to the HTTP port
/// fails at its first byte), and the length limits. They are made in byte order, so
/// the outcome is the same for every split of the same bytes.
///
/// Line ends: CRLF, or a bare LF, which RFC 9112 §2.2 lets a recipient accept (as
/// nginx does); a CR anywhere else is refused. After a complete head, call `reset()`
/// and hand the parser the bytes after the body for a pipelined request.
public struct HTTPRequestParser: Sendable {
    /// The limits the request is checked against.
    public let limits: HTTPLimits

    private enum Phase: UInt8 { case requestLine, fields, complete }

    private var phase = Phase.requestLine
    private var failure: HTTPParseError?
    /// Offset of the line being received.
    private var lineStart: UInt32 = 0
    /// Offset up to which the current line is known to hold no LF.
    private var scanned: UInt32 = 0
    /// Offset up to which the method token has been checked (while it is incomplete).
    private var methodChecked: UInt32 = 0
    /// Offset of the first field line.
    private var fieldsStart: UInt32 = 0
    private var skippedEmptyLine = false
    /// The head, once `parse` has returned true (partly filled before, and
    /// meaningless after a thrown error); read in place rather than
    /// returned, as each return of the 176-byte struct was a copy (callgrind:
    /// seven a request in mtcp-httpd, about 200 instructions).
    public private(set) var head = HTTPRequestHead()
    // Interpreted fields that are only needed until the head is complete.
    private var contentLength: Int?
    private var transferEncodingSeen = false
    private var chunked = false
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var connectionUpgrade = false
    private var upgradeSeen = false
    private var ifModifiedSinceSeen = false
    private var rangeSeen = false
    private var ifRangeSeen = false
    private var acceptEncodingSeen = false

    /// A parser for one request.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Forgets the request, keeping the limits: for the next request on the connection.
    public mutating func reset() {
        self = HTTPRequestParser(limits: limits)
    }

    /// Parses as much of the head as `buffer` holds.
    ///
    /// - Parameter buffer: every byte received for this request so far, from its first
    ///   byte; each call must pass the bytes of the previous call plus any new ones.
    /// - Returns: true once the head is complete (again on further calls; it is
    ///   then in `head`), false while more bytes are needed.
    /// - Throws: why the request is refused; `error.status` is the answer to send. The
    ///   error repeats on further calls.
    public mutating func parse(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) -> Bool {
        if let failure { throw failure }
        if phase == .complete { return true }
        precondition(buffer.count >= Int(scanned) && buffer.count <= Int(UInt32.max),
                     "the buffer must hold at least the bytes already given")
        do {
            return try parseLines(buffer)
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func parseLines(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) -> Bool {
        guard let base = buffer.baseAddress else { return false }
        while true {
            let from = Int(scanned)
            guard let found = memchr(base + from, Int32(ASCII.lf), buffer.count - from) else {
                scanned = UInt32(buffer.count)
                try checkIncompleteLine(buffer)
                return false
            }
            let lf = base.distance(to: UnsafeRawPointer(found))
            let start = Int(lineStart)
            var end = lf
            if end > start, buffer[end - 1] == ASCII.cr { end -= 1 }
            let next = lf + 1

            switch phase {
            case .requestLine:
                if end == start {
                    // RFC 9112 §2.2: ignore at least one empty line before the request
                    // line (some clients send CRLF after a POST body). One is enough,
                    // and a bound keeps a stream of CRLFs from occupying the buffer.
                    guard !skippedEmptyLine else { throw .unexpectedEmptyLine }
                    skippedEmptyLine = true
                    methodChecked = UInt32(next)
                } else {
                    try checkMethod(buffer, upTo: end)
                    guard end - start <= limits.maxRequestLineLength else { throw .requestLineTooLong }
                    try parseRequestLine(buffer, start: start, end: end)
                    phase = .fields
                    fieldsStart = UInt32(next)
                }
            case .fields:
                guard next - Int(fieldsStart) <= limits.maxHeaderBytes else { throw .headerSectionTooLarge }
                if end == start {
                    head.fieldSection = HTTPByteSpan(start: Int(fieldsStart), end: start)
                    head.headLength = next
                    try finishHead()
                    phase = .complete
                    return true
                }
                head.fieldCount += 1
                guard head.fieldCount <= limits.maxHeaderCount else { throw .tooManyFields }
                try parseField(buffer, start: start, end: end)
            case .complete:
                preconditionFailure("a complete head is returned before looking further")
            }
            lineStart = UInt32(next)
            scanned = UInt32(next)
        }
    }

    /// The checks that can be decided before a line is complete, in the order their
    /// outcome is determined by the bytes (see the type's comment).
    private mutating func checkIncompleteLine(_ buffer: UnsafeRawBufferPointer) throws(HTTPParseError) {
        let received = buffer.count - Int(lineStart)
        switch phase {
        case .requestLine:
            try checkMethod(buffer, upTo: buffer.count)
            // One byte of slack: the last byte may be the CR of a line of exactly the limit.
            guard received <= limits.maxRequestLineLength + 1 else { throw .requestLineTooLong }
        case .fields:
            guard buffer.count - Int(fieldsStart) <= limits.maxHeaderBytes else { throw .headerSectionTooLarge }
        case .complete:
            break
        }
    }

    /// Checks the method's bytes as far as they have arrived, up to its SP, and not
    /// beyond the point where the line would be too long anyway (so that the error
    /// reported does not depend on how the bytes were split).
    private mutating func checkMethod(_ buffer: UnsafeRawBufferPointer, upTo end: Int) throws(HTTPParseError) {
        let limit = min(end, Int(lineStart) + limits.maxRequestLineLength + 1)
        var index = Int(methodChecked)
        while index < limit {
            let byte = buffer[index]
            if byte == ASCII.space || byte == ASCII.cr {
                // After the SP nothing is a method. A CR may end an empty line (tolerated
                // before the request line) or a line without SP: the complete line decides.
                guard byte == ASCII.cr || index > Int(lineStart) else { throw .invalidMethod }
                methodChecked = UInt32.max
                return
            }
            guard ASCII.isTokenChar(byte) else { throw .invalidMethod }
            index += 1
        }
        if index > Int(methodChecked) { methodChecked = UInt32(index) }
    }

    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), with
    /// exactly one SP between the parts: the lenient whitespace splitting §3 allows
    /// is how request smuggling between disagreeing parsers starts.
    private mutating func parseRequestLine(_ buffer: UnsafeRawBufferPointer, start: Int, end: Int) throws(HTTPParseError) {
        var index = start
        while index < end, buffer[index] != ASCII.space { index += 1 }
        // checkMethod found an SP with a non-empty token before it, or the line has none.
        guard index < end else { throw .invalidRequestLine }
        let methodSpan = HTTPByteSpan(start: start, end: index)
        let targetStart = index + 1
        index = targetStart
        while index < end, ASCII.isTargetChar(buffer[index]) { index += 1 }
        guard index > targetStart, index < end, buffer[index] == ASCII.space else { throw .invalidRequestLine }
        let target = HTTPByteSpan(start: targetStart, end: index)
        head.version = try Self.parseVersion(UnsafeRawBufferPointer(rebasing: buffer[(index + 1)..<end]))
        head.methodSpan = methodSpan
        head.method = HTTPMethod(token: methodSpan.bytes(in: buffer))
        head.target = target
        head.requestLine = HTTPByteSpan(start: start, end: end)
    }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
    private static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPVersion {
        guard bytes.count == 8, bytes[0] == 72, bytes[1] == 84, bytes[2] == 84, bytes[3] == 80, bytes[4] == ASCII.slash,
              ASCII.isDigit(bytes[5]), bytes[6] == ASCII.dot, ASCII.isDigit(bytes[7])
        else { throw .invalidVersion }
        guard bytes[5] == UInt8(ascii: "1") else { throw .unsupportedVersion }
        return bytes[7] == UInt8(ascii: "0") ? .http10 : .http11
    }

    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
    private mutating func parseField(_ buffer: UnsafeRawBufferPointer, start: Int, end: Int) throws(HTTPParseError) {
        guard !ASCII.isWhitespace(buffer[start]) else { throw .obsoleteLineFolding }
        let colon = ASCII.tokenEnd(in: buffer, from: start, to: end)
        guard colon < end, buffer[colon] == ASCII.colon else {
            var next = colon
            while next < end, ASCII.isWhitespace(buffer[next]) { next += 1 }
            throw next > colon && next < end && buffer[next] == ASCII.colon ? .whitespaceBeforeColon : .invalidFieldName
        }
        guard colon > start else { throw .invalidFieldName }
        var valueStart = colon + 1
        var valueEnd = end
        while valueStart < valueEnd, ASCII.isWhitespace(buffer[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, ASCII.isWhitespace(buffer[valueEnd - 1]) { valueEnd -= 1 }
        guard ASCII.firstNonFieldValueChar(in: buffer, from: valueStart, to: valueEnd) == valueEnd else {
            throw .invalidFieldValue
        }
        let name = UnsafeRawBufferPointer(rebasing: buffer[start..<colon])
        let span = HTTPByteSpan(start: valueStart, end: valueEnd)
        try interpret(name: name, value: span.bytes(in: buffer), span: span)
    }

    /// Records what the server needs from a field; other fields are only counted.
    /// Dispatch is on the name's length first, so most fields cost one compare,
    /// a word at a time (the name is a token: `tokenEqualsIgnoringCase`).
    private mutating func interpret(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                                    span: HTTPByteSpan) throws(HTTPParseError) {
        switch name.count {
        case 4 where ASCII.tokenEqualsIgnoringCase(name, "host"):
            guard head.host == nil else { throw .multipleHosts }
            guard Self.isValidHost(value) else { throw .invalidHost }
            head.host = span
        case 5 where ASCII.tokenEqualsIgnoringCase(name, "range"):
            head.range = rangeSeen ? nil : span
            rangeSeen = true
        case 6 where ASCII.tokenEqualsIgnoringCase(name, "expect"):
            ASCII.forEachListElement(value) { expectation in
                if ASCII.equalsIgnoringCase(expectation, "100-continue") {
                    head.expectsContinue = true
                } else {
                    head.hasUnknownExpectation = true
                }
                return true
            }
        case 7 where ASCII.tokenEqualsIgnoringCase(name, "referer"):
            head.referer = span
        case 7 where ASCII.tokenEqualsIgnoringCase(name, "upgrade"):
            // Several lines would make one list; a client has no reason to split
            // it, so the request is then not upgraded rather than the lines joined.
            head.upgrade = upgradeSeen ? nil : span
            upgradeSeen = true
        case 8 where ASCII.tokenEqualsIgnoringCase(name, "if-range"):
            head.ifRange = ifRangeSeen ? nil : span
            ifRangeSeen = true
        case 10 where ASCII.tokenEqualsIgnoringCase(name, "connection"):
            ASCII.forEachListElement(value) { option in
                if ASCII.equalsIgnoringCase(option, "close") { connectionClose = true }
                if ASCII.equalsIgnoringCase(option, "keep-alive") { connectionKeepAlive = true }
                if ASCII.equalsIgnoringCase(option, "upgrade") { connectionUpgrade = true }
                return true
            }
        case 10 where ASCII.tokenEqualsIgnoringCase(name, "user-agent"):
            head.userAgent = span
        case 13 where ASCII.tokenEqualsIgnoringCase(name, "if-none-match"):
            if head.ifNoneMatch == nil { head.ifNoneMatch = span }
        case 14 where ASCII.tokenEqualsIgnoringCase(name, "content-length"):
            try interpretContentLength(value)
        case 15 where ASCII.tokenEqualsIgnoringCase(name, "accept-encoding"):
            head.acceptEncoding = acceptEncodingSeen ? nil : span
            acceptEncodingSeen = true
        case 17 where ASCII.tokenEqualsIgnoringCase(name, "transfer-encoding"):
            try interpretTransferEncoding(value)
        case 17 where ASCII.tokenEqualsIgnoringCase(name, "if-modified-since"):
            head.ifModifiedSince = ifModifiedSinceSeen ? nil : span
            ifModifiedSinceSeen = true
        default:
            break
        }
    }

    /// Content-Length = 1*DIGIT (RFC 9110 §8.6). A list of identical values, or the
    /// same value on several lines, is accepted as one (§8.6 allows it); any
    /// difference is refused (RFC 9112 §6.3 rule 5). Values too big for an Int
    /// saturate: they are over any body limit and end as 413, not 400.
    private mutating func interpretContentLength(_ value: UnsafeRawBufferPointer) throws(HTTPParseError) {
        var failure: HTTPParseError?
        var elements = 0
        // Split by hand rather than with forEachListElement: an empty element makes
        // the whole value invalid here, where generic lists skip it.
        var index = 0
        while index <= value.count, failure == nil {
            var end = index
            while end < value.count, value[end] != ASCII.comma { end += 1 }
            let element = ASCII.trimmingWhitespace(UnsafeRawBufferPointer(rebasing: value[index..<end]))
            elements += 1
            var number = 0
            if element.isEmpty { failure = .invalidContentLength }
            for byte in element where failure == nil {
                guard ASCII.isDigit(byte) else { failure = .invalidContentLength; break }
                let (times, overflow1) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int(byte &- 48))
                number = overflow1 || overflow2 ? Int.max : sum
            }
            if failure == nil, let previous = contentLength, previous != number { failure = .conflictingContentLength }
            if failure == nil { contentLength = number }
            index = end + 1
        }
        if let failure { throw failure }
    }

    /// Transfer-Encoding (RFC 9112 §6.1): only chunked is implemented; anything else
    /// is 501 (a coding we cannot undo), and chunked twice is 400.
    private mutating func interpretTransferEncoding(_ value: UnsafeRawBufferPointer) throws(HTTPParseError) {
        transferEncodingSeen = true
        var failure: HTTPParseError?
        ASCII.forEachListElement(value) { coding in
            if !ASCII.equalsIgnoringCase(coding, "chunked") {
                failure = .unsupportedTransferCoding
            } else if chunked {
                failure = .invalidTransferEncoding
            } else {
                chunked = true
            }
            return failure == nil
        }
        if let failure { throw failure }
    }

    /// Host = uri-host [ ":" port ] (RFC 9110 §7.2): the characters of a reg-name,
    /// IPv4 or bracketed IPv6 literal. It is not resolved, only kept from carrying
    /// what would let it split a path or a log line (`/`, `@`, spaces, quotes).
    public static func isValidHost(_ value: UnsafeRawBufferPointer) -> Bool {
        for byte in value where !ASCII.isHostChar(byte) { return false }
        return true
    }

    /// Decides the framing once all fields are known (RFC 9112 §6.3).
    private mutating func finishHead() throws(HTTPParseError) {
        if head.version == .http11, head.host == nil { throw .missingHost }
        if transferEncodingSeen {
            guard head.version == .http11 else { throw .transferEncodingInHTTP10 }
            guard contentLength == nil else { throw .contentLengthWithTransferEncoding }
            // forEachListElement skipped only empty elements: nothing but chunked was seen.
            guard chunked else { throw .invalidTransferEncoding }
            head.body = .chunked
        } else if let contentLength {
            guard contentLength <= limits.maxBodyBytes else { throw .bodyTooLarge }
            head.body = .contentLength(contentLength)
        } else {
            if limits.lengthRequired, head.method == .post || head.method == .put { throw .lengthRequired }
            head.body = .none
        }
        head.keepAlive = !connectionClose && (head.version == .http11 || connectionKeepAlive)
        // An Upgrade that Connection does not name, or of HTTP/1.0, is ignored (RFC 9110 §7.8).
        if !connectionUpgrade || head.version == .http10 { head.upgrade = nil }
    }
}
