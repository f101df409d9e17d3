@testable import MTCPHTTP

/// The outcome of feeding a parser: a head, an error, or still waiting (nil head).
typealias ParseOutcome = Result<HTTPRequestHead?, HTTPParseError>

/// Feeds `bytes` to a fresh parser in the pieces given by `cuts` (increasing offsets),
/// each call seeing everything received so far, as a connection's buffer would.
func parse(_ bytes: [UInt8], cuts: [Int] = [], limits: HTTPLimits = HTTPLimits()) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome: ParseOutcome = .success(nil)
    for end in cuts + [bytes.count] {
        outcome = bytes.withUnsafeBytes { buffer in
            Result { () throws(HTTPParseError) in
                try parser.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<end])) ? parser.head : nil
            }
        }
        if case .failure = outcome { return outcome }
        if case .success(.some) = outcome { return outcome }
    }
    return outcome
}

func parse(_ text: String, cuts: [Int] = [], limits: HTTPLimits = HTTPLimits()) -> ParseOutcome {
    parse(Array(text.utf8), cuts: cuts, limits: limits)
}

/// The error a request is refused with, or nil.
func error(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPParseError? {
    if case .failure(let error) = parse(text, limits: limits) { return error }
    return nil
}

/// The complete head, or nil.
func head(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPRequestHead? {
    if case .success(let head) = parse(text, limits: limits) { return head }
    return nil
}

extension [UInt8] {
    /// The bytes of `span` as a string, for readable expectations.
    func string(_ span: HTTPByteSpan?) -> String? {
        guard let span else { return nil }
        return String(decoding: self[span.start..<span.end], as: UTF8.self)
    }
}

/// Runs `body` with `text` in a raw buffer.
func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try Array(text.utf8).withUnsafeBytes(body)
}
