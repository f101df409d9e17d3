/// Complete error responses, the 204 that answers OPTIONS and the 200 of the
/// health path (`/healthz`, whose other answer is the 503), pre-built at start-up, one set per core: such a response is one write of one buffer, like a
/// cache hit, and its Date is patched once a second with `refreshDate` instead of
/// being formatted per request.
///
/// Each has a small HTML body (the 204 has none) and exists in two variants, `Connection: keep-alive`
/// and `Connection: close`. Statuses after which the connection cannot go on
/// (`mustClose`) only exist with `close`: whatever the caller asks for, it gets that.
public struct HTTPErrorResponses: ~Copyable {
    /// The error statuses that have a response (and may have a page of the
    /// operator's, `error_pages`), and the 204.
    public static let statuses: [HTTPStatus] = [
        .badRequest, .forbidden, .notFound, .methodNotAllowed, .requestTimeout, .lengthRequired, .contentTooLarge,
        .uriTooLong, .requestHeaderFieldsTooLarge, .internalServerError, .notImplemented, .badGateway,
        .serviceUnavailable, .gatewayTimeout, .httpVersionNotSupported, .noContent, .expectationFailed,
    ]

    /// The methods the static server answers: the Allow of its 405 and of OPTIONS.
    public static let allowedMethods: StaticString = "GET, HEAD, OPTIONS"

    private let arena: UnsafeMutableRawBufferPointer
    /// Per status slot: keep-alive then close response.
    private let responses: UnsafeMutableBufferPointer<ArenaSlice>
    private let dates: UnsafeMutableBufferPointer<UInt32>

    /// The head of a pre-built response, through its blank line: the answer to HEAD.
    public static func head(of response: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var index = 3
        while index < response.count {
            if response[index] == ASCII.lf, response[index - 1] == ASCII.cr,
               response[index - 2] == ASCII.lf, response[index - 3] == ASCII.cr {
                return UnsafeRawBufferPointer(rebasing: response[0...index])
            }
            index += 1
        }
        return response
    }

    /// Builds every response; `serverName` is the Server field, `now` dates them.
    public init(serverName: String, now: Int64) {
        var bytes: [UInt8] = []
        var slices: [ArenaSlice] = []
        var dateOffsets: [UInt32] = []
        var date = [UInt8](repeating: 0, count: HTTPDate.length)
        date.withUnsafeMutableBytes { HTTPDate.format(now, into: $0.baseAddress!) }
        let server = Array(serverName.utf8)
        var scratch = [UInt8](repeating: 0, count: 2048)
        for status in Self.statuses + [.ok] {
            let body = status == .noContent ? [] : Self.page(for: status)
            for keepAlive in [true, false] {
                let (count, dateOffset) = scratch.withUnsafeMutableBytes { raw in
                    date.withUnsafeBytes { dateBytes in
                        server.withUnsafeBytes { serverBytes in
                            var writer = HTTPByteWriter(raw)
                            var head = HTTPResponseHead(status: status, date: dateBytes, server: serverBytes,
                                                        keepAlive: keepAlive && !Self.mustClose(status))
                            if status == .noContent {
                                // RFC 9110 §8.6: no Content-Length in a 204.
                                head.allow = Self.allowedMethods
                            } else {
                                let type: StaticString = "text/html; charset=utf-8"
                                head.contentType = UnsafeRawBufferPointer(start: type.utf8Start,
                                                                          count: type.utf8CodeUnitCount)
                                head.contentLength = body.count
                            }
                            if status == .methodNotAllowed { head.allow = Self.allowedMethods }
                            let dateOffset = head.write(into: &writer)
                            body.withUnsafeBytes { writer.append($0) }
                            precondition(!writer.overflowed)
                            return (writer.count, dateOffset)
                        }
                    }
                }
                slices.append(ArenaSlice(offset: UInt32(bytes.count), count: UInt32(count)))
                dateOffsets.append(UInt32(bytes.count + dateOffset))
                bytes += scratch[0..<count]
            }
        }
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        bytes.withUnsafeBytes { arena.copyMemory(from: $0) }
        self.arena = arena
        responses = UnsafeMutableBufferPointer.allocate(capacity: slices.count)
        _ = responses.initialize(from: slices)
        dates = UnsafeMutableBufferPointer.allocate(capacity: dateOffsets.count)
        _ = dates.initialize(from: dateOffsets)
    }

    /// The small HTML page of an error status.
    private static func page(for status: HTTPStatus) -> [UInt8] {
        let title = Array("\(status.rawValue) \(status.reasonPhrase)".utf8)
        return Array("<html><head><title>".utf8) + title + Array("</title></head><body><h1>".utf8) + title
            + Array("</h1></body></html>\n".utf8)
    }

    deinit {
        arena.deallocate()
        responses.deallocate()
        dates.deallocate()
    }

    /// Whether the server must close the connection after sending `status`: the
    /// request's framing is unknown or unread (400, 411, 413, 414, 417, 431, 501, 505), the
    /// client is too slow (408), or the server is in trouble (500).
    public static func mustClose(_ status: HTTPStatus) -> Bool {
        switch status {
        case .ok, .noContent, .forbidden, .notFound, .methodNotAllowed, .badGateway, .serviceUnavailable, .gatewayTimeout: false
        default: true
        }
    }

    /// The complete response for `status`, or nil for a status without one. With
    /// `keepAlive` false, or a status that `mustClose`, it says `Connection: close`.
    public func response(for status: HTTPStatus, keepAlive: Bool) -> UnsafeRawBufferPointer? {
        let slot: Int
        switch status.rawValue {
        case 400: slot = 0
        case 403: slot = 1
        case 404: slot = 2
        case 405: slot = 3
        case 408: slot = 4
        case 411: slot = 5
        case 413: slot = 6
        case 414: slot = 7
        case 431: slot = 8
        case 500: slot = 9
        case 501: slot = 10
        case 502: slot = 11
        case 503: slot = 12
        case 504: slot = 13
        case 505: slot = 14
        case 204: slot = 15
        case 417: slot = 16
        case 200: slot = 17
        default: return nil
        }
        let slice = responses[2 * slot + (keepAlive ? 0 : 1)]
        return UnsafeRawBufferPointer(rebasing: arena[Int(slice.offset)..<Int(slice.offset + slice.count)])
    }

    /// Writes the clock's date into every response (see `StaticFileCache.refreshDate`).
    public func refreshDate(_ clock: HTTPDateClock) {
        clock.withBytes { date in
            for offset in dates {
                (arena.baseAddress! + Int(offset)).copyMemory(from: date.baseAddress!, byteCount: HTTPDate.length)
            }
        }
    }
}
