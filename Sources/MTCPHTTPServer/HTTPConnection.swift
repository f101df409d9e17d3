import MTCP
import MTCPHTTP

/// What a connection still has to write for the response in progress: bytes of a
/// head, then in-memory body bytes, then a part of a file. Pointers lie in the
/// connection's head buffer or in the static file cache (valid across one reload).
struct PendingOutput {
    var head = UnsafeRawBufferPointer(start: nil, count: 0)
    var body = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The open file being streamed, or -1.
    var file: Int32 = -1
    var fileOffset = 0
    var fileRemaining = 0

    var isEmpty: Bool { head.isEmpty && body.isEmpty && fileRemaining == 0 }
}

/// The server's state of one client connection, kept in a table indexed by the
/// socket's slot: no object per connection, nothing allocated when one opens.
struct HTTPConnection {
    var socket: Socket
    var isOpen = false
    var parser: HTTPRequestParser
    /// Bytes of the request buffer in use: the current request head and any
    /// pipelined bytes after it.
    var buffered = 0
    /// The most of the request buffer this connection has used (to give pages back).
    var highWater = 0
    /// Body bytes of the current request still to be skipped (the static server
    /// has no use for request bodies, but must stay in step with the framing).
    var bodyToSkip = 0
    var output = PendingOutput()
    /// The cache generation `output` points into.
    var outputGeneration = 0
    /// Close once `output` is written (Connection: close, HTTP/1.0, errors).
    var closeAfterOutput = false
    /// When the first byte of the request being received arrived (header timeout),
    /// nil between requests.
    var requestStarted: Instant?
    /// Last time bytes moved either way (keep-alive idle timeout).
    var lastActivity = Instant.zero
    /// The status and content length of the response in progress, for the access log.
    var status = HTTPStatus.ok
    var contentLength = 0

    init(socket: Socket, limits: HTTPLimits, now: Instant) {
        self.socket = socket
        parser = HTTPRequestParser(limits: limits)
        isOpen = true
        lastActivity = now
    }

    init() {
        socket = Socket(rawValue: 0)
        parser = HTTPRequestParser()
    }
}
