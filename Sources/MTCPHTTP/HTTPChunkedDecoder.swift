/// An incremental decoder of the chunked transfer coding (RFC 9112 §7.1), for request
/// bodies the proxy forwards and for response bodies the load generator reads.
///
/// It consumes bytes from the front of whatever the caller passes and reports, per
/// call, how many it consumed and at most one span of chunk data among them: the
/// caller forwards or counts that span, drops the consumed bytes and calls again.
/// Data is never copied. Framing is parsed one byte at a time with an explicit state,
/// so any split of the input gives the same result.
///
/// Strictness, because a proxy that frames differently from its upstream is a
/// smuggling vector: the chunk size is hexadecimal only, whitespace is only allowed
/// before a `;` extension (BWS), every line ends in CRLF (a bare LF or CR is 400,
/// unlike the head, where the body's framing is not at stake), chunk extensions and
/// trailer fields are checked for control characters and skipped, never interpreted.
public struct HTTPChunkedDecoder: Sendable {
    /// What one call of `decode` did.
    public struct Output: Hashable, Sendable {
        /// Bytes consumed from the front of the input (framing and data).
        public var consumed: Int
        /// Chunk data within the consumed bytes (offsets into the input); may be empty.
        public var data: HTTPByteSpan
        /// Whether the last chunk and the trailer section have been consumed: bytes
        /// after `consumed` belong to the next message.
        public var isComplete: Bool
    }

    private enum State: UInt8 {
        case size, sizeWhitespace, extensions, sizeLF, data, dataCR, dataLF
        case trailerStart, trailerName, trailerValue, trailerLF, finalLF, done
    }

    private let maxBodyBytes: Int
    private let maxLineLength: Int
    private let maxTrailerBytes: Int
    private var state = State.size
    private var failure: HTTPParseError?
    private var sawDigit = false
    private var chunkSize = 0
    private var lineLength = 0
    private var remaining = 0
    private var total = 0
    private var trailerBytes = 0

    /// A decoder bounded by `limits`: `maxBodyBytes` for the sum of chunk sizes (413),
    /// `maxChunkLineLength` for each size line (400), `maxHeaderBytes` for the
    /// trailer section (431).
    public init(limits: HTTPLimits = HTTPLimits()) {
        maxBodyBytes = limits.maxBodyBytes
        maxLineLength = limits.maxChunkLineLength
        maxTrailerBytes = limits.maxHeaderBytes
    }

    /// Sum of the chunk sizes announced so far.
    public var bodyBytes: Int { total }

    /// Whether the whole chunked body has been consumed.
    public var isComplete: Bool { state == .done }

    /// Consumes framing from the front of `input` up to the next chunk data, and
    /// returns that data (as much of it as `input` holds). Returns `consumed == 0`
    /// without completion when `input` holds nothing it can use: more bytes are needed.
    /// Throws the same error on every call once the framing is found invalid.
    public mutating func decode(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> Output {
        if let failure { throw failure }
        do {
            return try step(input)
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func step(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> Output {
        var index = 0
        while index < input.count, state != .done {
            if state == .data {
                let take = min(remaining, input.count - index)
                remaining -= take
                if remaining == 0 { state = .dataCR }
                return Output(consumed: index + take, data: HTTPByteSpan(start: index, end: index + take),
                              isComplete: false)
            }
            try frame(input[index])
            index += 1
        }
        return Output(consumed: index, data: HTTPByteSpan(start: index, end: index), isComplete: state == .done)
    }

    /// Advances the framing state by one byte.
    private mutating func frame(_ byte: UInt8) throws(HTTPParseError) {
        switch state {
        case .size, .sizeWhitespace, .extensions:
            lineLength += 1
            guard lineLength <= maxLineLength else { throw .chunkLineTooLong }
            try sizeLine(byte)
        case .sizeLF:
            guard byte == ASCII.lf else { throw .invalidChunkTerminator }
            if chunkSize == 0 {
                state = .trailerStart
            } else {
                total += chunkSize
                remaining = chunkSize
                state = .data
            }
        case .dataCR:
            guard byte == ASCII.cr else { throw .invalidChunkTerminator }
            state = .dataLF
        case .dataLF:
            guard byte == ASCII.lf else { throw .invalidChunkTerminator }
            state = .size
            sawDigit = false
            chunkSize = 0
            lineLength = 0
        case .trailerStart, .trailerName, .trailerValue:
            trailerBytes += 1
            guard trailerBytes <= maxTrailerBytes else { throw .headerSectionTooLarge }
            try trailerLine(byte)
        case .trailerLF:
            guard byte == ASCII.lf else { throw .invalidChunkTerminator }
            state = .trailerStart
        case .finalLF:
            guard byte == ASCII.lf else { throw .invalidChunkTerminator }
            state = .done
        case .data, .done:
            preconditionFailure("data and completion are handled by step")
        }
    }

    /// chunk-size [ chunk-ext ] CRLF, chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).
    private mutating func sizeLine(_ byte: UInt8) throws(HTTPParseError) {
        switch state {
        case .size:
            if let digit = ASCII.hexValue(byte) {
                let (times, overflow1) = chunkSize.multipliedReportingOverflow(by: 16)
                let (size, overflow2) = times.addingReportingOverflow(Int(digit))
                // Checked digit by digit, so a huge size is refused before it overflows.
                guard !overflow1, !overflow2, size <= maxBodyBytes - total else { throw .bodyTooLarge }
                chunkSize = size
                sawDigit = true
                return
            }
            guard sawDigit else { throw .invalidChunkSize }
            switch byte {
            case ASCII.cr: state = .sizeLF
            case ASCII.semicolon: state = .extensions
            case ASCII.space, ASCII.tab: state = .sizeWhitespace
            case ASCII.lf: throw .invalidChunkTerminator
            default: throw .invalidChunkSize
            }
        case .sizeWhitespace:
            if byte == ASCII.semicolon {
                state = .extensions
            } else if !ASCII.isWhitespace(byte) {
                throw .invalidChunkSize
            }
        default:
            // Extensions are skipped: names and values are not interpreted, only kept
            // free of control characters.
            if byte == ASCII.cr {
                state = .sizeLF
            } else if byte == ASCII.lf {
                throw .invalidChunkTerminator
            } else if !ASCII.isFieldValueChar(byte) {
                throw .invalidChunkSize
            }
        }
    }

    /// trailer-section = *( field-line CRLF ) CRLF; each line is a token, a colon and
    /// a value without control characters.
    private mutating func trailerLine(_ byte: UInt8) throws(HTTPParseError) {
        switch state {
        case .trailerStart:
            if byte == ASCII.cr {
                state = .finalLF
            } else if ASCII.isTokenChar(byte) {
                state = .trailerName
            } else {
                throw byte == ASCII.lf ? .invalidChunkTerminator : .invalidTrailer
            }
        case .trailerName:
            if byte == ASCII.colon {
                state = .trailerValue
            } else if !ASCII.isTokenChar(byte) {
                throw .invalidTrailer
            }
        default:
            if byte == ASCII.cr {
                state = .trailerLF
            } else if byte == ASCII.lf {
                throw .invalidChunkTerminator
            } else if !ASCII.isFieldValueChar(byte) {
                throw .invalidTrailer
            }
        }
    }
}
