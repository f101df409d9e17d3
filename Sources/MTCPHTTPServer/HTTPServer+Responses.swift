import Glibc
import MTCP
import MTCPHTTP

/// Choosing the response to a request: a static file from the cache, or an error.
extension HTTPServer {
    /// Answers one complete request head (whose spans point into `request`).
    /// While draining, as if the client had asked for `Connection: close`.
    mutating func respond(_ index: Int, to head: HTTPRequestHead,
                          in request: UnsafeRawBufferPointer,
                          _ context: inout SocketContext<Device>) {
        if isDraining && head.keepAlive {
            var closing = head
            closing.keepAlive = false
            return respond(index, to: closing, in: request, &context)
        }
        if !head.keepAlive { connections[index].closeAfterOutput = true }
        // HTTP/1.0 has no Expect: an HTTP/1.0 request's is ignored (RFC 9110 §10.1.1).
        if head.hasUnknownExpectation && head.version == .http11 {
            return respondWithError(index, .expectationFailed, &context, headOnly: head.method == .head)
        }
        switch HTTPTargetPath.normalize(head.target.bytes(in: request), into: pathBuffer) {
        case .path(let length, let query):
            let path = UnsafeRawBufferPointer(rebasing: pathBuffer[0..<length])
            if isHealthPath(path) { return answerHealthCheck(index, method: head.method, &context) }
            if let route = upstreams.route(for: path) {
                return startProxy(index, head, in: request, path: path, query: query, route: route, &context)
            }
            switch head.method {
            case .get, .head: break
            // RFC 9110 §9.3.7: what the resource allows, in a 204 (no content to send).
            case .options: return respondWithError(index, cache.serves(path) ? .noContent : .notFound, &context)
            case .other: return respondWithError(index, .notImplemented, &context)
            default: return respondWithError(index, .methodNotAllowed, &context)
            }
            guard let response = cache.response(to: head, in: request, path: path, clock: clock,
                                                scratch: memory.head(index)) else {
                return respondWithError(index, .notFound, &context, headOnly: head.method == .head)
            }
            var output = PendingOutput(head: response.head, body: response.body, bodyFromCache: true)
            if let file = response.file {
                let descriptor = file.open()
                guard descriptor >= 0 else {
                    statistics.fileErrors &+= 1
                    return respondWithError(index, .internalServerError, &context, headOnly: head.method == .head)
                }
                output.file = descriptor
                output.fileOffset = file.offset
                output.fileRemaining = file.count
            }
            connections[index].output = output
            // The whole response is known: let size-aware scheduling see it.
            try? context.declareRemaining(connections[index].socket,
                                          bytes: output.head.count + output.body.count + output.fileRemaining)
            connections[index].outputGeneration = cache.generation
            connections[index].status = response.status
            connections[index].contentLength = response.contentLength
        case .outsideRoot:
            respondWithError(index, .forbidden, &context, headOnly: head.method == .head)
        case .tooLong:
            respondWithError(index, .uriTooLong, &context, headOnly: head.method == .head)
        case .asterisk where head.method == .options:
            // `OPTIONS *` asks about the server as a whole (RFC 9110 §9.3.7).
            respondWithError(index, .noContent, &context)
        case .asterisk, .invalid:
            respondWithError(index, .badRequest, &context)
        }
    }

    /// Queues a pre-built error response (or OPTIONS' 204, or the health path's
    /// 200): the configured page of
    /// the document root when there is one (`error_pages`), else the built-in one. After a malformed request the framing
    /// of what follows is unknown, so the connection closes after the response
    /// (RFC 9112 §9.6); so it does after a 408 or a 500 (`mustClose`). The answer
    /// to HEAD is the head alone (RFC 9110 §9.3.2): a page sent after it would be
    /// read by a kept-alive client as the start of its next response.
    mutating func respondWithError(_ index: Int, _ status: HTTPStatus,
                                   _ context: inout SocketContext<Device>, headOnly: Bool = false) {
        let keepAlive = !connections[index].closeAfterOutput && !HTTPErrorResponses.mustClose(status)
        connections[index].closeAfterOutput = !keepAlive
        let response = cache.errorPage(for: status, keepAlive: keepAlive)
            ?? errors.response(for: status, keepAlive: keepAlive)
            ?? errors.response(for: .internalServerError, keepAlive: false)!
        connections[index].output = PendingOutput(head: headOnly ? HTTPErrorResponses.head(of: response) : response)
        connections[index].outputGeneration = cache.generation  // a configured page lives in the cache
        connections[index].status = status
        connections[index].contentLength = 0
        connections[index].requestStarted = nil
    }
}
