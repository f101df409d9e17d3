import Testing
@testable import MTCPHTTP

/// Decodes `bytes` delivered in the pieces given by `cuts`, the way a connection
/// would: unconsumed bytes stay at the front of its buffer and new ones are appended.
/// Returns the body and the number of bytes consumed, or the error.
func decodeChunked(_ bytes: [UInt8], cuts: [Int] = [], limits: HTTPLimits = HTTPLimits())
    -> Result<(body: [UInt8], consumed: Int), HTTPParseError>
{
    var decoder = HTTPChunkedDecoder(limits: limits)
    var body: [UInt8] = []
    var consumed = 0
    for available in cuts + [bytes.count] {
        while !decoder.isComplete {
            let window = Array(bytes[consumed..<available])
            let result = window.withUnsafeBytes { buffer in
                Result { () throws(HTTPParseError) in try decoder.decode(buffer) }
            }
            guard case .success(let output) = result else { return result.map { _ in ([], 0) } }
            body += window[output.data.start..<output.data.end]
            consumed += output.consumed
            if output.consumed == 0 { break }
        }
    }
    return .success((body, consumed))
}

@Suite struct HTTPChunkedDecoderTests {
    static let valid: [(String, String)] = [
        ("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
        ("A;name=value;flag\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
        ("00004 ;ext\r\nabcd\r\n000\r\nTrailer: yes\r\nOther:\r\n\r\n", "abcd"),
        ("0\r\n\r\n", ""),
        ("1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", "\r\n"),
    ]

    @Test(arguments: valid)
    func decodesAtEverySplit(_ text: String, _ expected: String) throws {
        let bytes = Array((text + "NEXT").utf8)
        let framed = bytes.count - 4
        let whole = try decodeChunked(bytes).get()
        #expect(String(decoding: whole.body, as: UTF8.self) == expected)
        #expect(whole.consumed == framed, "stops at the end of the body")
        for cut in 0...bytes.count {
            let split = try decodeChunked(bytes, cuts: [cut]).get()
            #expect(split.body == whole.body && split.consumed == framed, "split at \(cut)")
        }
        let single = try decodeChunked(bytes, cuts: Array(0..<bytes.count)).get()
        #expect(single.body == whole.body && single.consumed == framed)
    }

    static let malformed: [(String, HTTPParseError)] = [
        ("x\r\n", .invalidChunkSize),
        ("\r\n", .invalidChunkSize),
        (";ext\r\n", .invalidChunkSize),
        ("-1\r\n", .invalidChunkSize),
        ("0x5\r\nhello\r\n", .invalidChunkSize),
        ("5 \r\nhello\r\n", .invalidChunkSize),
        ("5\nhello\r\n", .invalidChunkTerminator),
        ("5\r\nhelloXX", .invalidChunkTerminator),
        ("5\r\nhello\n0\r\n\r\n", .invalidChunkTerminator),
        ("5\rhello", .invalidChunkTerminator),
        ("5;a=\u{01}\r\nhello\r\n", .invalidChunkSize),
        ("0\r\nBad Trailer: x\r\n\r\n", .invalidTrailer),
        ("0\r\n Folded\r\n\r\n", .invalidTrailer),
        ("0\r\nNoColon\r\n\r\n", .invalidTrailer),
        ("0\r\nX: a\u{00}\r\n\r\n", .invalidTrailer),
        ("0\r\n\n", .invalidChunkTerminator),
        ("0\r\n\rX", .invalidChunkTerminator),
        ("100001\r\n", .bodyTooLarge),
        ("FFFFFFFFFFFFFFFFFFFFFFFF\r\n", .bodyTooLarge),
        ("1;" + String(repeating: "e", count: 1100) + "\r\n", .chunkLineTooLong),
    ]

    @Test(arguments: malformed)
    func malformedFramingIsRefusedAtEverySplit(_ text: String, _ expected: HTTPParseError) {
        let bytes = Array(text.utf8)
        #expect(decodeChunked(bytes).failure == expected)
        for cut in 0...bytes.count {
            #expect(decodeChunked(bytes, cuts: [cut]).failure == expected, "split at \(cut)")
        }
    }

    @Test func bodyLimitCountsEveryChunk() {
        let limits = HTTPLimits(maxBodyBytes: 8)
        #expect((try? decodeChunked(Array("4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n".utf8), limits: limits).get()) != nil)
        #expect(decodeChunked(Array("4\r\nabcd\r\n5\r\nefghi\r\n0\r\n\r\n".utf8), limits: limits).failure == .bodyTooLarge)
        let trailer = HTTPLimits(maxHeaderBytes: 10)
        #expect(decodeChunked(Array("0\r\nX-Long: 123456\r\n\r\n".utf8), limits: trailer).failure == .headerSectionTooLarge)
        #expect(HTTPParseError.invalidChunkSize.status == .badRequest)
    }

    @Test func needsMoreBytesWithoutConsumingAPartialSizeLine() throws {
        var decoder = HTTPChunkedDecoder()
        try withBytes("") { buffer in
            let output = try decoder.decode(buffer)
            #expect(output.consumed == 0 && !output.isComplete)
        }
        try withBytes("1") { buffer in
            let output = try decoder.decode(buffer)
            #expect(output.consumed == 1)  // framing bytes are consumed as they are read
        }
        try withBytes("0\r\nab") { buffer in
            let output = try decoder.decode(buffer)
            #expect(output.consumed == 5 && bytesOf(output.data, buffer) == "ab")
        }
        #expect(decoder.bodyBytes == 16)
    }
}

private func bytesOf(_ span: HTTPByteSpan, _ buffer: UnsafeRawBufferPointer) -> String {
    String(decoding: span.bytes(in: buffer), as: UTF8.self)
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
