import Glibc

/// An incremental, strict HTTP/1.1 response parser (RFC 9112) for a client
/// that reads responses in whatever pieces the network delivers.
///
/// Feed it bytes with `parse(_:body:)` as they arrive — a split may fall on any
/// byte — and call `finish()` when the connection reaches end of stream. It
/// reads the status line and header fields, keeps the few fields that frame the
/// message (Content-Length, Transfer-Encoding, Connection), and hands the body
/// to a closure without copying it: Content-Length bodies, chunked bodies (chunk
/// extensions skipped, trailer fields checked and dropped) and bodies delimited
/// by the end of the connection.
///
/// A head that arrives whole in one buffer (the usual case: a short response
/// in one segment) takes a fast path: line ends found with `memchr`, the
/// status line read at fixed offsets, field names told apart by length. It
/// only ever accepts: anything unusual (a split head, an interim response, an
/// obs-fold, an error) leaves the head to the byte-at-a-time state machine,
/// so both give the same result for every input.
///
/// The parser is a plain value of scalars: it owns no memory, so parsing a
/// response allocates nothing, and one parser per connection is reused with
/// `reset(expectingBody:)`. Anything malformed ends in a classified
/// `HTTPResponseParseError`; after an error the parser must be reset.
///
/// `maximumHeadBytes` bounds everything that is not body: the head, any
/// interim (1xx) heads before it and the trailer section.
public struct HTTPResponseParser: Sendable {
    /// The status code of the final (non-1xx) response, once the status line is read.
    public private(set) var status: UInt16 = 0
    /// The minor version of `HTTP/1.x`.
    public private(set) var minorVersion: UInt8 = 0
    /// The Content-Length field, if the response had one.
    public private(set) var contentLength: Int?
    /// Whether the body is chunked.
    public private(set) var isChunked = false
    /// Whether the connection may carry another request after this response:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`, and never for a body delimited by the close.
    public private(set) var keepAlive = false
    /// Bytes of the final response's head (status line to the empty line).
    public private(set) var headBytes = 0
    /// Bytes of all heads (interim ones too) and trailers: what `maximumHeadBytes` bounds.
    private var sectionBytes = 0
    /// The final head was read by the fast path (for tests).
    private(set) var readHeadWhole = false
    /// Body bytes handed to the closure so far (chunked: decoded data only).
    public private(set) var bodyBytes = 0
    /// The status line and header fields are complete.
    public private(set) var isHeadComplete = false
    /// The whole message has been read.
    public private(set) var isComplete = false
    /// Any byte of a response has arrived.
    public private(set) var hasStarted = false
    /// The status and length of the interim (1xx) head that ended where the
    /// last `parseHead` stopped; 0 bytes when it stopped for another reason.
    public private(set) var interimStatus: UInt16 = 0
    public private(set) var interimHeadBytes = 0

    /// The largest status line plus header section accepted.
    public let maximumHeadBytes: Int
    /// An obs-fold (a field line starting with whitespace) continues the field
    /// before it, read as spaces, as RFC 9112 §5.2 requires of a user agent;
    /// otherwise (a proxy, which forwards the bytes) it is rejected.
    public let acceptsObsFold: Bool

    private var state = State.version
    private var expectsBody = true
    /// The request asked to switch protocols: a 101 is its final response.
    private var upgradeRequested = false
    /// Position within the current element (prefix matched, digits read, name length).
    private var position = 0
    /// A number being read: a Content-Length value or a chunk size.
    private var number: UInt64 = 0
    /// Body or chunk bytes still to come.
    private var remaining = 0
    private var field = KnownField.other
    /// Known field names the current name may still be (bits of `KnownField`).
    private var nameCandidates: UInt8 = 0
    private var list = TokenList("chunked", "chunked")
    private var valueEnded = false
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var sawTransferEncoding = false
    /// Upgrade fields seen, and whether one names h2c, which the proxy never
    /// asks for (it would carry requests past the proxy's routing and policy).
    private var upgradeFields = 0
    private var upgradesToH2C = false
    private var inTrailers = false
    /// A field value ended at its line end: it is interpreted once the next
    /// line shows it is not continued by an obs-fold.
    private var valuePending = false
    /// Where the pending value's bytes stood (`.valueStart` or `.value`), to resume after a fold.
    private var pendingState = State.value

    /// - Parameter maximumHeadBytes: responses with a larger head (interim heads
    ///   and trailers included) fail with `.headTooLarge` instead of growing anything.
    public init(maximumHeadBytes: Int = 64 * 1024, acceptsObsFold: Bool = false) {
        self.maximumHeadBytes = maximumHeadBytes
        self.acceptsObsFold = acceptsObsFold
    }

    /// Makes the parser ready for the next response on the connection.
    /// - Parameter expectingBody: false for the response to a HEAD request,
    ///   whose framing fields describe a body that is not sent (RFC 9110 §9.3.2).
    /// - Parameter upgradeRequested: the request carried Upgrade: a 101 (HTTP/1.1)
    ///   then completes the response, and the bytes after its head are the new
    ///   protocol's (RFC 9110 §15.2.2), never parsed here.
    public mutating func reset(expectingBody: Bool = true, upgradeRequested: Bool = false) {
        self = HTTPResponseParser(maximumHeadBytes: maximumHeadBytes, acceptsObsFold: acceptsObsFold)
        self.expectsBody = expectingBody
        self.upgradeRequested = upgradeRequested
    }

    /// The response switched protocols (a 101 to a request that asked for it).
    public var isUpgrade: Bool { isComplete && status == 101 }

    /// Reads as much of `bytes` as belongs to the current response and returns
    /// how many bytes it consumed: all of them, or fewer when the response ended
    /// inside `bytes` (then `isComplete` is true and the rest belongs to whatever
    /// follows). Body bytes are passed to `body` as they are found, possibly in
    /// several pieces.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer,
                               body: (UnsafeRawBufferPointer) -> Void) throws(HTTPResponseParseError) -> Int {
        var index = 0
        if !bytes.isEmpty { hasStarted = true }
        while index < bytes.count && !isComplete {
            if state == .version && position == 0 && index == 0 {
                var whole = self
                if let length = whole.parseWholeHead(bytes) {
                    self = whole
                    readHeadWhole = true
                    index = length
                    continue
                }
            }
            if state == .body || state == .chunkData || state == .untilClose {
                let take = state == .untilClose ? bytes.count - index : min(remaining, bytes.count - index)
                body(UnsafeRawBufferPointer(rebasing: bytes[index..<index + take]))
                index += take
                bodyBytes += take
                if state == .untilClose { continue }
                remaining -= take
                if remaining == 0 {
                    if state == .body {
                        isComplete = true
                    } else {
                        state = .chunkDataCR
                    }
                }
                continue
            }
            index = try advance(bytes, from: index)
        }
        return index
    }

    /// Reads head bytes of `bytes` up to the end of the next head, interim
    /// (1xx) or final, in one pass, and returns how many it consumed: all of
    /// them while no head ends. Then `isHeadComplete` tells a final head (the
    /// body, if any, starts at the returned position: hand it to `parse`), and
    /// `interimHeadBytes` an interim one that ended there (`interimStatus`);
    /// what follows is the next head's. For a proxy, which relays each head as
    /// it ends; call it only while `isHeadComplete` is false.
    public mutating func parseHead(_ bytes: UnsafeRawBufferPointer) throws(HTTPResponseParseError) -> Int {
        interimHeadBytes = 0
        var index = 0
        if !bytes.isEmpty { hasStarted = true }
        while index < bytes.count && !isHeadComplete && interimHeadBytes == 0 {
            if state == .version && position == 0 {
                var whole = self
                if let length = whole.parseWholeHead(UnsafeRawBufferPointer(rebasing: bytes[index...])) {
                    self = whole
                    readHeadWhole = true
                    return index + length
                }
            }
            index = try advance(bytes, from: index)
        }
        return index
    }

    /// Moves the state machine on over the framing bytes at `index`: a run
    /// that needs no step at once, else one byte. Returns the next index.
    @inline(__always)
    private mutating func advance(_ bytes: UnsafeRawBufferPointer, from index: Int) throws(HTTPResponseParseError) -> Int {
        let run = uninterestingRun(bytes, from: index)
        if run > 0 {
            try countSection(run)
            return index + run
        }
        try countSection(1)
        try step(bytes[index])
        return index + 1
    }

    /// Counts head or trailer bytes against `maximumHeadBytes` (chunk-size lines are body framing).
    @inline(__always)
    private mutating func countSection(_ count: Int) throws(HTTPResponseParseError) {
        guard !isHeadComplete || inTrailers else { return }
        if !isHeadComplete { headBytes += count }
        sectionBytes += count
        if sectionBytes > maximumHeadBytes { throw .headTooLarge }
    }

    /// The connection reached end of stream: completes a body delimited by the
    /// close, and otherwise fails with `.truncated` unless the response was
    /// already complete.
    public mutating func finish() throws(HTTPResponseParseError) {
        if isComplete { return }
        guard state == .untilClose else { throw .truncated }
        isComplete = true
    }

    // MARK: - The state machine

    private enum State: UInt8 {
        case version, minorVersion, statusSpace, statusCode, reason, statusLF
        case lineStart, headLF, name, valueStart, value, valueLF
        case body, untilClose
        case chunkSize, chunkSizeWhitespace, chunkExtension, chunkSizeLF, chunkData, chunkDataCR, chunkDataLF
    }

    /// The fields that frame the message; bits for `nameCandidates`.
    private enum KnownField: UInt8 {
        case other = 0, contentLength = 1, transferEncoding = 2, connection = 4, upgrade = 8

        static let allBits: UInt8 = 15

        /// The field's name in lower case.
        var name: StaticString {
            switch self {
            case .other: ""
            case .contentLength: "content-length"
            case .transferEncoding: "transfer-encoding"
            case .connection: "connection"
            case .upgrade: "upgrade"
            }
        }
    }

    private static let versionPrefix: StaticString = "HTTP/1."

    private mutating func step(_ byte: UInt8) throws(HTTPResponseParseError) {
        switch state {
        case .version:
            guard byte == Self.versionPrefix.utf8Start[position] else { throw .invalidStatusLine }
            position += 1
            if position == Self.versionPrefix.utf8CodeUnitCount { state = .minorVersion }
        case .minorVersion:
            guard ASCII.isDigit(byte) else { throw .invalidStatusLine }
            minorVersion = byte &- UInt8(ascii: "0")
            state = .statusSpace
        case .statusSpace:
            guard byte == UInt8(ascii: " ") else { throw .invalidStatusLine }
            state = .statusCode
            position = 0
            status = 0
        case .statusCode:
            if position == 3 {
                guard byte == UInt8(ascii: " ") else { throw .invalidStatusLine }
                guard status >= 100 else { throw .invalidStatusLine }
                state = .reason
            } else {
                guard ASCII.isDigit(byte) else { throw .invalidStatusLine }
                status = status * 10 + UInt16(byte &- UInt8(ascii: "0"))
                position += 1
            }
        case .reason:
            if byte == UInt8(ascii: "\r") {
                state = .statusLF
            } else if byte == UInt8(ascii: "\n") {
                throw .invalidLineEnding
            } else if !ASCII.isFieldValueChar(byte) {
                throw .invalidStatusLine
            }
        case .statusLF:
            guard byte == UInt8(ascii: "\n") else { throw .invalidLineEnding }
            state = .lineStart
        case .lineStart:
            try startLine(byte)
        case .headLF:
            guard byte == UInt8(ascii: "\n") else { throw .invalidLineEnding }
            try endOfFields()
        case .name:
            try nameByte(byte)
        case .valueStart, .value:
            try valueByte(byte)
        case .valueLF:
            guard byte == UInt8(ascii: "\n") else { throw .invalidLineEnding }
            state = .lineStart
        case .chunkSize:
            try chunkSizeByte(byte)
        case .chunkSizeWhitespace:
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"): break
            case UInt8(ascii: ";"): state = .chunkExtension
            case UInt8(ascii: "\r"): state = .chunkSizeLF
            default: throw .invalidChunk
            }
        case .chunkExtension:
            if byte == UInt8(ascii: "\r") {
                state = .chunkSizeLF
            } else if !ASCII.isFieldValueChar(byte) {
                throw .invalidChunk
            }
        case .chunkSizeLF:
            guard byte == UInt8(ascii: "\n") else { throw .invalidChunk }
            endOfChunkSize()
        case .chunkDataCR:
            guard byte == UInt8(ascii: "\r") else { throw .invalidChunk }
            state = .chunkDataLF
        case .chunkDataLF:
            guard byte == UInt8(ascii: "\n") else { throw .invalidChunk }
            state = .chunkSize
            position = 0
            number = 0
        case .body, .chunkData, .untilClose:
            preconditionFailure("body states are handled in bulk by parse")
        }
    }

    /// How many bytes from `start` the state machine would take without doing
    /// anything but moving on: the rest of a reason phrase or of a field value
    /// nobody interprets, or of a field name that can no longer be a known one.
    /// Most of a response head is such bytes (Date, Server, ETag...); skipping them
    /// in a tight loop instead of a state-machine step each made the parser the
    /// load generator's largest cost under `perf`. The byte that ends the run
    /// (CR, colon, or anything not allowed) goes through `step` as before.
    @inline(__always)
    private func uninterestingRun(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var end = start
        switch state {
        case .reason, .value where field == .other:
            end = ASCII.firstNonFieldValueChar(in: bytes, from: start, to: bytes.count)
        case .name where nameCandidates == 0:
            while end < bytes.count, ASCII.isTokenChar(bytes[end]) { end += 1 }
        default:
            break
        }
        return end - start
    }

    /// The first byte of a field line, of an obs-fold continuing the previous
    /// one, or of the empty line that ends the fields.
    private mutating func startLine(_ byte: UInt8) throws(HTTPResponseParseError) {
        let isSpace = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
        if isSpace && valuePending && acceptsObsFold {
            // obs-fold: the line break and this whitespace read as one space.
            valuePending = false
            state = pendingState
            return try valueByte(UInt8(ascii: " "))
        }
        if valuePending {
            valuePending = false
            try endOfValue()
        }
        if byte == UInt8(ascii: "\r") {
            state = .headLF
        } else if isSpace {
            throw .invalidHeader  // obs-fold (RFC 9112 §5.2) not accepted, or whitespace before the first name
        } else if byte == UInt8(ascii: "\n") {
            throw .invalidLineEnding
        } else {
            guard ASCII.isTokenChar(byte) else { throw .invalidHeader }
            state = .name
            position = 0
            field = .other
            nameCandidates = inTrailers ? 0 : KnownField.allBits
            matchName(byte)
        }
    }

    private mutating func nameByte(_ byte: UInt8) throws(HTTPResponseParseError) {
        if byte == UInt8(ascii: ":") {
            try beginValue(of: fullyMatched(.contentLength) ?? fullyMatched(.transferEncoding)
                ?? fullyMatched(.connection) ?? fullyMatched(.upgrade) ?? .other)
            return
        }
        guard ASCII.isTokenChar(byte) else { throw .invalidHeader }
        matchName(byte)
    }

    /// The colon after a field name: the value of `known` follows.
    private mutating func beginValue(of known: KnownField) throws(HTTPResponseParseError) {
        field = known
        state = .valueStart
        valueEnded = false
        number = 0
        position = 0
        switch field {
        case .connection: list = TokenList("close", "keep-alive")
        case .upgrade: list = TokenList("h2c", "h2c")
        default: list = TokenList("chunked", "chunked")
        }
        if field == .transferEncoding {
            guard !sawTransferEncoding else { throw .unsupportedTransferEncoding }
            sawTransferEncoding = true
        }
    }

    /// Narrows the known names the field name may still be, with its next byte.
    /// (Explicit calls rather than a loop over an array literal, which
    /// could allocate.)
    private mutating func matchName(_ byte: UInt8) {
        let lower = byte | 0x20
        narrow(.contentLength, lower)
        narrow(.transferEncoding, lower)
        narrow(.connection, lower)
        narrow(.upgrade, lower)
        position += 1
    }

    private mutating func narrow(_ candidate: KnownField, _ lower: UInt8) {
        let name = candidate.name
        if position >= name.utf8CodeUnitCount || name.utf8Start[position] != lower {
            nameCandidates &= ~candidate.rawValue
        }
    }

    /// `candidate` if the whole name read so far is exactly its name.
    private func fullyMatched(_ candidate: KnownField) -> KnownField? {
        nameCandidates & candidate.rawValue != 0 && candidate.name.utf8CodeUnitCount == position ? candidate : nil
    }

    private mutating func valueByte(_ byte: UInt8) throws(HTTPResponseParseError) {
        if byte == UInt8(ascii: "\r") {
            pendingState = state
            valuePending = true
            state = .valueLF
            return
        }
        guard ASCII.isFieldValueChar(byte) else {
            throw byte == UInt8(ascii: "\n") ? .invalidLineEnding : .invalidHeader
        }
        let isSpace = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
        if state == .valueStart {
            if isSpace { return }
            state = .value
        }
        switch field {
        case .other:
            break
        case .contentLength:
            // Digits, then optional trailing whitespace; nothing else (no lists).
            if isSpace {
                valueEnded = true
            } else {
                guard ASCII.isDigit(byte), !valueEnded, number < (1 << 58) else { throw .invalidContentLength }
                number = number * 10 + UInt64(byte &- UInt8(ascii: "0"))
                position += 1
            }
        case .transferEncoding:
            list.feed(byte, isSpace: isSpace)
        case .connection, .upgrade:
            list.feed(byte, isSpace: isSpace)
        }
    }

    private mutating func endOfValue() throws(HTTPResponseParseError) {
        switch field {
        case .other:
            break
        case .contentLength:
            guard position > 0 else { throw .invalidContentLength }
            if let contentLength, contentLength != Int(number) { throw .invalidContentLength }
            contentLength = Int(number)
        case .transferEncoding:
            list.endElement()
            // Exactly one coding, and it is chunked: anything else cannot be decoded here.
            guard list.elements == 1, list.matched & 1 != 0, !list.malformed else {
                throw .unsupportedTransferEncoding
            }
        case .connection:
            list.endElement()
            if list.matched & 1 != 0 { connectionClose = true }
            if list.matched & 2 != 0 { connectionKeepAlive = true }
        case .upgrade:
            list.endElement()
            upgradeFields += 1
            upgradesToH2C = upgradesToH2C || list.matched & 1 != 0
        }
    }

    /// The empty line: decides how the body is framed.
    private mutating func endOfFields() throws(HTTPResponseParseError) {
        if inTrailers {
            isComplete = true
            return
        }
        if status == 101 {
            // Naming the one protocol it switched to (RFC 9110 §15.2.2), never h2c:
            // the proxy does not offer it (RFC 9110 §7.8: not one the client asked for).
            guard upgradeRequested && minorVersion >= 1 && upgradeFields == 1 && !upgradesToH2C else {
                throw .unexpectedUpgrade
            }
            isHeadComplete = true
            isComplete = true
            return
        }
        if (100..<200).contains(status) {
            // An interim response (100 Continue, 103 Early Hints): the final one follows.
            let expectsBody = self.expectsBody
            let started = hasStarted
            let sectionBytes = self.sectionBytes
            let interim = (status: status, bytes: headBytes)
            reset(expectingBody: expectsBody, upgradeRequested: upgradeRequested)
            hasStarted = started
            self.sectionBytes = sectionBytes
            interimStatus = interim.status
            interimHeadBytes = interim.bytes
            return
        }
        isHeadComplete = true
        if sawTransferEncoding {
            guard minorVersion >= 1 else { throw .unsupportedTransferEncoding }
            guard contentLength == nil else { throw .conflictingFraming }
        }
        keepAlive = minorVersion >= 1 ? !connectionClose : connectionKeepAlive && !connectionClose
        if !expectsBody || status == 204 || status == 304 {
            isComplete = true
        } else if sawTransferEncoding {
            isChunked = true
            state = .chunkSize
            position = 0
            number = 0
        } else if let contentLength {
            remaining = contentLength
            state = .body
            isComplete = contentLength == 0
        } else {
            keepAlive = false
            state = .untilClose
        }
    }

    private mutating func chunkSizeByte(_ byte: UInt8) throws(HTTPResponseParseError) {
        if let digit = ASCII.hexValue(byte) {
            // 2^58 bytes is far beyond any chunk; the bound keeps the sum from overflowing.
            guard number < (1 << 58) else { throw .invalidChunk }
            number = number << 4 | UInt64(digit)
            position += 1
            return
        }
        guard position > 0 else { throw .invalidChunk }
        switch byte {
        case UInt8(ascii: "\r"): state = .chunkSizeLF
        case UInt8(ascii: ";"): state = .chunkExtension
        // BWS before a `;` (RFC 9112 §7.1.1), and nothing else.
        case UInt8(ascii: " "), UInt8(ascii: "\t"): state = .chunkSizeWhitespace
        default: throw .invalidChunk
        }
    }

    private mutating func endOfChunkSize() {
        if number == 0 {
            // The last chunk: a trailer section follows, ended by an empty line.
            inTrailers = true
            state = .lineStart
        } else {
            remaining = Int(number)
            state = .chunkData
        }
    }
}

// MARK: - The fast path

extension HTTPResponseParser {
    /// Reads a final response's head that lies whole at the start of `bytes`
    /// and returns its length, leaving the parser where the state machine
    /// would after the empty line; nil when the head is not whole there or
    /// anything is unusual (then the caller discards this copy of the parser
    /// and the state machine reads the bytes, classifying any error).
    fileprivate mutating func parseWholeHead(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let lineEnd = Self.lineFeed(in: bytes, from: 0), parseStatusLine(bytes, lineEnd: lineEnd) else {
            return nil
        }
        var start = lineEnd + 1
        while true {
            guard start < bytes.count, sectionBytes + start < maximumHeadBytes else { return nil }
            if bytes[start] == UInt8(ascii: "\r") {
                let length = start + 2
                guard length <= bytes.count, bytes[start + 1] == UInt8(ascii: "\n"),
                      sectionBytes + length <= maximumHeadBytes else { return nil }
                headBytes = length
                sectionBytes += length
                do { try endOfFields() } catch { return nil }
                return length
            }
            guard let end = Self.lineFeed(in: bytes, from: start), parseFieldLine(bytes, start, end) else {
                return nil
            }
            start = end + 1
        }
    }

    /// The index of the next LF at or after `from`.
    private static func lineFeed(in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = bytes.baseAddress, from < bytes.count,
              let found = memchr(base + from, Int32(UInt8(ascii: "\n")), bytes.count - from) else { return nil }
        return UnsafeRawPointer(found) - base
    }

    /// `HTTP/1.x NNN reason CRLF`, the fixed parts at fixed offsets; false for
    /// anything else, and for an interim (1xx) status.
    private mutating func parseStatusLine(_ bytes: UnsafeRawBufferPointer, lineEnd: Int) -> Bool {
        guard lineEnd >= 14, bytes[lineEnd - 1] == UInt8(ascii: "\r") else { return false }
        let prefix = Self.versionPrefix
        for offset in 0..<prefix.utf8CodeUnitCount where bytes[offset] != prefix.utf8Start[offset] { return false }
        guard ASCII.isDigit(bytes[7]), bytes[8] == UInt8(ascii: " "), ASCII.isDigit(bytes[9]), ASCII.isDigit(bytes[10]),
              ASCII.isDigit(bytes[11]), bytes[12] == UInt8(ascii: " ") else { return false }
        // The reason phrase: field-value bytes up to the CR (no field byte itself).
        guard ASCII.firstNonFieldValueChar(in: bytes, from: 13, to: lineEnd - 1) == lineEnd - 1 else { return false }
        let code = UInt16(bytes[9] &- 48) * 100 + UInt16(bytes[10] &- 48) * 10 + UInt16(bytes[11] &- 48)
        guard code >= 200 else { return false }
        minorVersion = bytes[7] &- UInt8(ascii: "0")
        status = code
        return true
    }

    /// `name: value CRLF` in `start..<end` (end at the LF); only the framing
    /// fields' values are interpreted, with the state machine's own functions.
    private mutating func parseFieldLine(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Bool {
        guard end > start, bytes[end - 1] == UInt8(ascii: "\r") else { return false }
        let colon = ASCII.tokenEnd(in: bytes, from: start, to: end - 1)
        guard colon > start, colon < end - 1, bytes[colon] == UInt8(ascii: ":") else { return false }
        let value = colon + 1..<end - 1
        let known = Self.knownField(UnsafeRawBufferPointer(rebasing: bytes[start..<colon]))
        guard known != .other else {
            // CR is no field byte.
            return ASCII.firstNonFieldValueChar(in: bytes, from: value.lowerBound, to: value.upperBound)
                == value.upperBound
        }
        do {
            try beginValue(of: known)
            for offset in value {
                guard bytes[offset] != UInt8(ascii: "\r") else { return false }
                try valueByte(bytes[offset])
            }
            try endOfValue()
        } catch {
            return false
        }
        state = .lineStart
        return true
    }

    /// The framing field `name` is, told apart by its length first.
    private static func knownField(_ name: UnsafeRawBufferPointer) -> KnownField {
        let candidate: KnownField
        switch name.count {
        case 14: candidate = .contentLength
        case 17: candidate = .transferEncoding
        case 10: candidate = .connection
        case 7: candidate = .upgrade
        default: return .other
        }
        return ASCII.tokenEqualsIgnoringCase(name, candidate.name) ? candidate : .other
    }
}

/// Matches the elements of a comma-separated token list (`#token`, RFC 9110
/// §5.6.1) against two lower-case names, case-insensitively, one byte at a time.
private struct TokenList {
    /// Non-empty elements seen.
    var elements = 0
    /// Bit 0: the first name appeared as an element; bit 1: the second.
    var matched: UInt8 = 0
    /// An element held whitespace between token bytes.
    var malformed = false
    private let names: (StaticString, StaticString)
    private var length = 0
    private var candidates: UInt8 = 3
    private var spaceAfterToken = false

    init(_ first: StaticString, _ second: StaticString) { names = (first, second) }

    mutating func feed(_ byte: UInt8, isSpace: Bool) {
        if byte == UInt8(ascii: ",") {
            endElement()
            return
        }
        if isSpace {
            if length > 0 { spaceAfterToken = true }
            return
        }
        if spaceAfterToken { malformed = true }
        let lower = byte | 0x20
        if length >= names.0.utf8CodeUnitCount || names.0.utf8Start[length] != lower { candidates &= ~1 }
        if length >= names.1.utf8CodeUnitCount || names.1.utf8Start[length] != lower { candidates &= ~2 }
        length += 1
    }

    mutating func endElement() {
        if length > 0 {
            elements += 1
            if candidates & 1 != 0 && length == names.0.utf8CodeUnitCount { matched |= 1 }
            if candidates & 2 != 0 && length == names.1.utf8CodeUnitCount { matched |= 2 }
        }
        length = 0
        candidates = 3
        spaceAfterToken = false
    }
}
