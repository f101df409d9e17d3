import Glibc
import MTCP
import MTCPHTTP

/// Choosing the response to a request: a static file from the cache, or an error.
extension HTTPServer {
    /// Answers one complete request head (whose spans point into `request`).
    mutating func respond<Device: PacketDevice>(_ index: Int, to head: HTTPRequestHead,
                                                in request: UnsafeRawBufferPointer,
                                                _ context: inout SocketContext<Device>) {
        if !head.keepAlive { connections[index].closeAfterOutput = true }
        switch head.method {
        case .get, .head:
            break
        case .other:
            return respondWithError(index, .notImplemented, &context)
        default:
            return respondWithError(index, .methodNotAllowed, &context)
        }
        switch HTTPTargetPath.normalize(head.target.bytes(in: request), into: pathBuffer) {
        case .path(let length, _):
            let path = UnsafeRawBufferPointer(rebasing: pathBuffer[0..<length])
            guard let response = cache.response(to: head, in: request, path: path, clock: clock,
                                                scratch: memory.head(index)) else {
                return respondWithError(index, .notFound, &context)
            }
            var output = PendingOutput(head: response.head, body: response.body)
            if let file = response.file {
                let descriptor = file.open()
                guard descriptor >= 0 else {
                    statistics.fileErrors &+= 1
                    return respondWithError(index, .internalServerError, &context)
                }
                output.file = descriptor
                output.fileOffset = file.offset
                output.fileRemaining = file.count
            }
            connections[index].output = output
            connections[index].outputGeneration = cache.generation
            connections[index].status = response.status
            connections[index].contentLength = response.contentLength
        case .outsideRoot:
            respondWithError(index, .forbidden, &context)
        case .tooLong:
            respondWithError(index, .uriTooLong, &context)
        case .asterisk, .invalid:
            respondWithError(index, .badRequest, &context)
        }
    }

    /// Queues a small error response built in the connection's head buffer. After
    /// a malformed request the framing of what follows is unknown, so the
    /// connection closes after the response (RFC 9112 §9.6); so does a 408.
    mutating func respondWithError<Device: PacketDevice>(_ index: Int, _ status: HTTPStatus,
                                                         _ context: inout SocketContext<Device>) {
        let keepAlive = !connections[index].closeAfterOutput && Self.keepsConnection(after: status)
        connections[index].closeAfterOutput = !keepAlive
        let buffer = memory.head(index)
        var writer = HTTPByteWriter(buffer)
        let body = status.reasonPhrase
        clock.withBytes { date in
            serverName.withUnsafeBytes { server in
                var head = HTTPResponseHead(status: status, date: date, server: server, keepAlive: keepAlive)
                head.contentType = UnsafeRawBufferPointer(start: Self.textPlain.utf8Start,
                                                          count: Self.textPlain.utf8CodeUnitCount)
                head.contentLength = body.utf8CodeUnitCount + 1
                if status == .methodNotAllowed { head.allow = "GET, HEAD" }
                head.write(into: &writer)
            }
        }
        writer.append(body)
        writer.append(byte: 0x0A)
        connections[index].output = PendingOutput(head: writer.written)
        connections[index].status = status
        connections[index].contentLength = body.utf8CodeUnitCount + 1
        connections[index].requestStarted = nil
    }

    private static let textPlain: StaticString = "text/plain; charset=utf-8"

    /// Statuses after which the connection can carry on: the request was
    /// understood, only refused.
    private static func keepsConnection(after status: HTTPStatus) -> Bool {
        status == .notFound || status == .forbidden || status == .methodNotAllowed
            || status == .internalServerError
    }
}
