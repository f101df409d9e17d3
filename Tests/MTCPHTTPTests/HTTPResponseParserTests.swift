import Testing

@testable import MTCPHTTP

/// What feeding a response to a fresh parser produced.
private struct Parsed {
    var parser = HTTPResponseParser()
    var body: [UInt8] = []
    /// Bytes the parser took before the message ended (or all of them).
    var consumed = 0
    var error: HTTPResponseParseError?
}

/// Feeds `pieces` in order, as separate reads, then signals end of stream if
/// `closes`; stops at the first error or at the end of the message.
private func feed(_ pieces: [[UInt8]], closes: Bool = false, expectingBody: Bool = true, upgradeRequested: Bool = false,
                  maximumHeadBytes: Int = 64 * 1024, acceptsObsFold: Bool = false) -> Parsed {
    var result = Parsed()
    result.parser = HTTPResponseParser(maximumHeadBytes: maximumHeadBytes, acceptsObsFold: acceptsObsFold)
    result.parser.reset(expectingBody: expectingBody, upgradeRequested: upgradeRequested)
    do {
        for piece in pieces where !result.parser.isComplete {
            var body = result.body
            var parser = result.parser
            result.consumed += try piece.withUnsafeBytes { bytes in
                try parser.parse(bytes) { body.append(contentsOf: $0) }
            }
            result.parser = parser
            result.body = body
        }
        if closes { try result.parser.finish() }
    } catch {
        result.error = error as? HTTPResponseParseError
    }
    return result
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Every way of cutting `message` in two, plus one byte at a time.
private func splits(_ message: [UInt8]) -> [[[UInt8]]] {
    (0...message.count).map { [Array(message[..<$0]), Array(message[$0...])] } + [message.map { [$0] }]
}

@Suite struct HTTPResponseParserTests {
    static let contentLength = bytes("HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 11\r\n\r\nhello world")
    static let chunked = bytes("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
        + "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n")
    static let untilClose = bytes("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close")

    @Test(arguments: splits(contentLength))
    func contentLengthBodyAcrossAnySplit(pieces: [[UInt8]]) {
        let result = feed(pieces)
        #expect(result.error == nil)
        #expect(result.parser.isComplete)
        #expect(result.parser.status == 200)
        #expect(result.parser.contentLength == 11)
        #expect(result.parser.keepAlive)
        #expect(result.body == bytes("hello world"))
        #expect(result.parser.headBytes == Self.contentLength.count - 11)
        #expect(result.consumed == Self.contentLength.count)
    }

    @Test(arguments: splits(chunked))
    func chunkedBodyWithExtensionsAndTrailersAcrossAnySplit(pieces: [[UInt8]]) {
        let result = feed(pieces)
        #expect(result.error == nil)
        #expect(result.parser.isComplete)
        #expect(result.parser.isChunked)
        #expect(result.body == bytes("hello 0123456789"))
        #expect(result.parser.bodyBytes == 16)
        #expect(result.consumed == Self.chunked.count)
    }

    @Test(arguments: splits(untilClose))
    func bodyDelimitedByCloseAcrossAnySplit(pieces: [[UInt8]]) {
        let beforeClose = feed(pieces)
        #expect(beforeClose.error == nil)
        #expect(!beforeClose.parser.isComplete)
        let result = feed(pieces, closes: true)
        #expect(result.error == nil)
        #expect(result.parser.isComplete)
        #expect(!result.parser.keepAlive)
        #expect(result.body == bytes("body until close"))
    }

    @Test func bytesAfterTheMessageAreLeftForTheNextOne() {
        let next = bytes("HTTP/1.1 204 No Content\r\n\r\n")
        let result = feed([Self.contentLength + next])
        #expect(result.parser.isComplete)
        #expect(result.consumed == Self.contentLength.count)
        var parser = result.parser
        parser.reset()
        let consumed = try? next.withUnsafeBytes { try parser.parse($0) { _ in } }
        #expect(consumed == next.count)
        #expect(parser.isComplete && parser.status == 204 && parser.bodyBytes == 0)
    }

    @Test func keepAliveFollowsVersionAndConnectionTokens() {
        let cases: [(String, Bool)] = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
            ("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", false),
            ("HTTP/1.1 200 OK\r\nConnection: foo, close \r\nContent-Length: 0\r\n\r\n", false),
            ("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", true),
            ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
            ("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true),
            ("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", false),  // close-delimited body
        ]
        for (text, keepAlive) in cases {
            let result = feed([bytes(text)])
            #expect(result.error == nil, "\(text)")
            #expect(result.parser.isHeadComplete && result.parser.keepAlive == keepAlive, "\(text)")
        }
    }

    @Test func responsesWithoutBody() {
        for text in ["HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"] {
            let result = feed([bytes(text)])
            #expect(result.parser.isComplete && result.consumed == text.utf8.count, "\(text)")
        }
        let head = feed([bytes("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")], expectingBody: false)
        #expect(head.parser.isComplete && head.parser.contentLength == 500 && head.parser.bodyBytes == 0)
    }

    @Test func interimResponsesAreSkipped() {
        let text = bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
            + "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")
        for pieces in splits(text) {
            let result = feed(pieces)
            #expect(result.parser.isComplete && result.parser.status == 404 && result.body == bytes("no"))
        }
    }

    @Test func reasonPhraseMayBeEmptyOrCarryObsText() {
        #expect(feed([bytes("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")]).parser.isComplete)
        #expect(feed([bytes("HTTP/1.1 200 Gr\u{FC}\u{DF}e\r\nContent-Length: 0\r\n\r\n")]).parser.isComplete)
    }

    @Test func repeatedEqualContentLengthIsAccepted() {
        let result = feed([bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length:2 \r\n\r\nok")])
        #expect(result.error == nil && result.parser.isComplete && result.body == bytes("ok"))
    }

    static let malformed: [(String, HTTPResponseParseError)] = [
        ("HTTP/2 200 OK\r\n\r\n", .invalidStatusLine),
        ("http/1.1 200 OK\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1 20 OK\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1 2000 OK\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1 200\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1 099 Low\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1  200 OK\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1 200 O\u{1}K\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1 200 OK\n\r\n", .invalidLineEnding),
        ("HTTP/1.1 200 OK\rX\n", .invalidLineEnding),
        ("HTTP/1.1 200 OK\r\nA: b\n\r\n", .invalidLineEnding),
        ("HTTP/1.1 200 OK\r\n\n", .invalidLineEnding),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\nName : x\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\nA: b\u{0}c\r\n\r\n", .invalidHeader),
        // Past the first eight bytes of a value or reason phrase, where the scan tests words.
        ("HTTP/1.1 200 OK\r\nX-Long: 0123456789abcdef\u{0}ghij\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\nX-Long: 0123456789\tabcdef\u{7F}\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 A fine reason\u{1}phrase\r\n\r\n", .invalidStatusLine),
        ("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", .invalidHeader),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         .unsupportedTransferEncoding),
        ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .conflictingFraming),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n", .invalidChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .invalidChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", .invalidChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n", .invalidChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", .invalidChunk),
        // After the size only whitespace, then `;` or the line end (RFC 9112 §7.1.1: BWS before `;`).
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 junk\r\nab\r\n0\r\n\r\n", .invalidChunk),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\tx;a\r\nab\r\n0\r\n\r\n", .invalidChunk),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", .unexpectedUpgrade),
    ]

    /// A 101 to a request that asked to switch ends at its head when it names the
    /// one protocol it switched to, and that is not h2c, which the proxy never
    /// offers (RFC 9110 §7.8, §15.2.2), whole or fed a byte at a time.
    @Test(arguments: [("Upgrade: websocket\r\n", true), ("Upgrade: WebSocket, x\r\n", true), ("", false),
                      ("Upgrade: h2c\r\n", false), ("Upgrade: websocket , H2C\r\n", false),
                      ("Upgrade: a\r\nUpgrade: b\r\n", false)])
    func switchingProtocolsNamesOneProtocolThatIsNotH2C(upgrade: String, accepted: Bool) {
        let message = bytes("HTTP/1.1 101 Switching Protocols\r\n\(upgrade)Connection: upgrade\r\n\r\n")
        for pieces in splits(message) {
            let parsed = feed(pieces, upgradeRequested: true)
            if accepted {
                #expect(parsed.error == nil && parsed.parser.isUpgrade, "\(upgrade.debugDescription) split \(pieces.map(\.count))")
            } else {
                #expect(parsed.error == .unexpectedUpgrade, "\(upgrade.debugDescription) split \(pieces.map(\.count))")
            }
        }
    }

    @Test(arguments: malformed)
    func malformedResponsesAreClassified(text: String, error: HTTPResponseParseError) {
        let message = bytes(text)
        for pieces in splits(message) {
            #expect(feed(pieces).error == error, "\(text.debugDescription) split \(pieces.map(\.count))")
        }
    }

    @Test func truncatedResponsesAreClassifiedAtEndOfStream() {
        let whole = Self.contentLength
        for cut in 0..<whole.count {
            #expect(feed([Array(whole[..<cut])], closes: true).error == .truncated, "cut at \(cut)")
        }
        let chunked = Self.chunked
        for cut in 0..<chunked.count {
            #expect(feed([Array(chunked[..<cut])], closes: true).error == .truncated, "cut at \(cut)")
        }
        #expect(feed([whole], closes: true).error == nil)
    }

    /// RFC 9112 §5.2: a user agent MUST replace an obs-fold in a response with
    /// spaces before interpreting the value; the fold may continue any field,
    /// framing fields included. (A proxy, which forwards the bytes, keeps the
    /// default and rejects it: see `malformed`.)
    @Test func obsFoldReadsAsSpacesForAUserAgent() {
        let text = bytes("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\nContent-Length:\r\n 2\r\n"
            + "Connection: keep-alive,\r\n\t close\r\nTransfer-Coding-Not: x\r\n \r\n\r\nok")
        for pieces in splits(text) {
            let result = feed(pieces, acceptsObsFold: true)
            #expect(result.error == nil, "split \(pieces.map(\.count))")
            #expect(result.parser.isComplete && result.parser.contentLength == 2 && result.body == bytes("ok"))
            #expect(!result.parser.keepAlive)  // the folded `close` was read
        }
        // Folded digits are still one bad Content-Length ("1 2"), and a fold cannot start the fields.
        #expect(feed([bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 2\r\n\r\n")], acceptsObsFold: true).error
            == .invalidContentLength)
        #expect(feed([bytes("HTTP/1.1 200 OK\r\n X: y\r\n\r\n")], acceptsObsFold: true).error == .invalidHeader)
    }

    @Test func whitespaceBeforeAChunkExtensionIsAccepted() {
        let text = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;a=b\r\nab\r\n1\t\r\nc\r\n0 \r\n\r\n")
        for pieces in splits(text) {
            let result = feed(pieces)
            #expect(result.error == nil && result.parser.isComplete && result.body == bytes("abc"))
        }
    }

    /// The head limit bounds everything that is not body: trailers, and any
    /// number of interim (1xx) heads before the final one.
    @Test func trailersAndInterimHeadsCountTowardsTheHeadLimit() {
        let trailers = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n"
            + String(repeating: "X-Trailer: 0123456789\r\n", count: 10) + "\r\n")
        #expect(feed([trailers], maximumHeadBytes: 100).error == .headTooLarge)
        #expect(feed([trailers], maximumHeadBytes: trailers.count).error == nil)
        let interim = bytes(String(repeating: "HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n", count: 10)
            + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(feed([interim], maximumHeadBytes: 200).error == .headTooLarge)
        let accepted = feed([interim], maximumHeadBytes: interim.count)
        #expect(accepted.error == nil && accepted.parser.isComplete)
        // headBytes is still the final head's size.
        #expect(accepted.parser.headBytes == 38)
    }

    /// Everything a parse produced, to compare the fast path with the state
    /// machine: the error, or (the parser's state after an error means nothing) every figure.
    private static func outcome(_ result: Parsed) -> String {
        if let error = result.error { return "\(error)" }
        let parser = result.parser
        return "\(parser.status) \(parser.minorVersion) \(String(describing: parser.contentLength)) "
            + "\(parser.isChunked) \(parser.keepAlive) \(parser.headBytes) \(parser.bodyBytes) "
            + "\(parser.isHeadComplete) \(parser.isComplete) \(result.body) \(result.consumed)"
    }

    static let wholeHeads: [String] = [
        "HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 11\r\n\r\nhello world",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: y\r\n\r\n",
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: Keep-Alive\r\n\r\nbody until close",
        "HTTP/1.1 404 \r\nCONTENT-LENGTH:2 \r\nconnection: close, foo\r\n\r\nno",
        "HTTP/1.1 204 No Content\r\nX-Content-Length: 9\r\nContent-Lengthy: 3\r\n\r\n",
        "HTTP/1.1 200 Gr\u{FC}\u{DF}e\r\nContent-Length: 0\r\n\r\nnext response",
        "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 02:08:15 GMT\r\nETag: \"40-6b\"\r\nContent-Length: 1\r\n\r\nx",
    ]

    /// The fast path (a head whole in one buffer) and the state machine (the
    /// same bytes split at every point, and one byte at a time) give the same
    /// result for well-formed heads, which the fast path reads, and for every
    /// malformed or unusual one, which it leaves to the state machine.
    @Test func fastPathAndStateMachineAgreeAtEverySplit() {
        let unusual = Self.malformed.map(\.0) + [
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 200) + "\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",  // head not whole
        ]
        for text in Self.wholeHeads + unusual {
            let message = bytes(text)
            for (limit, fold) in [(64 * 1024, false), (64 * 1024, true), (100, false)] {
                let whole = feed([message], maximumHeadBytes: limit, acceptsObsFold: fold)
                if Self.wholeHeads.contains(text) && limit > 100 {
                    #expect(whole.parser.readHeadWhole, "\(text.debugDescription) did not take the fast path")
                }
                for pieces in splits(message) where pieces[0].count < message.count {
                    let split = feed(pieces, maximumHeadBytes: limit, acceptsObsFold: fold)
                    #expect(Self.outcome(split) == Self.outcome(whole),
                            "\(text.debugDescription) split \(pieces.map(\.count)) limit \(limit) fold \(fold)")
                }
            }
        }
    }

    @Test func headLimitIsEnforced() {
        let big = bytes("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 200) + "\r\n\r\n")
        #expect(feed([big], maximumHeadBytes: 100).error == .headTooLarge)
        #expect(feed([big], maximumHeadBytes: big.count).error == nil)
    }

    @Test func largeBodiesArriveInPieces() {
        let size = 1 << 20
        var message = bytes("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n")
        message += (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let pieces = stride(from: 0, to: message.count, by: 1448).map { Array(message[$0..<min($0 + 1448, message.count)]) }
        let result = feed(pieces)
        #expect(result.parser.isComplete && result.parser.bodyBytes == size)
        #expect(result.body == Array(message.suffix(size)))
    }

    /// The parser holds only scalars, so it cannot own heap memory: parsing and
    /// resetting allocate nothing.
    @Test func parserIsPlainData() {
        #expect(_isPOD(HTTPResponseParser.self))
    }
}

/// `parseHead` stops where each head ends, interim or final, whatever the
/// split, and leaves the body to `parse`.
@Test func parseHeadStopsAtEachHeadsEnd() throws {
    let interim = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    let final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    let message = bytes(interim + final + "ok")
    for cut in 0...message.count {
        var parser = HTTPResponseParser()
        var heads: [(status: UInt16, end: Int)] = []
        var offset = 0
        for piece in [Array(message[..<cut]), Array(message[cut...])] {
            var position = 0
            while position < piece.count && !parser.isHeadComplete {
                position += try piece[position...].withUnsafeBytes { try parser.parseHead($0) }
                if parser.interimHeadBytes > 0 { heads.append((parser.interimStatus, offset + position)) }
                if parser.isHeadComplete { heads.append((parser.status, offset + position)) }
            }
            offset += piece.count
        }
        #expect(heads.map(\.status) == [103, 200], "cut at \(cut)")
        #expect(heads.map(\.end) == [interim.utf8.count, interim.utf8.count + final.utf8.count], "cut at \(cut)")
        #expect(parser.headBytes == final.utf8.count && parser.contentLength == 2)
    }
}
