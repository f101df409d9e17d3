import MTCP
import MTCPHTTP
import MTCPTLS

/// What a connection still has to write for the response in progress: bytes of a
/// head, then in-memory body bytes, then a part of a file. Pointers lie in the
/// connection's head buffer or in the static file cache (valid across one reload).
struct PendingOutput {
    var head = UnsafeRawBufferPointer(start: nil, count: 0)
    var body = UnsafeRawBufferPointer(start: nil, count: 0)
    /// `body` is the cache's (of the connection's `outputGeneration`): over
    /// plain TCP it is then sent by reference, not copied into the send buffer.
    var bodyFromCache = false
    /// The open file being streamed, or -1.
    var file: Int32 = -1
    var fileOffset = 0
    var fileRemaining = 0

    var isEmpty: Bool { head.isEmpty && body.isEmpty && fileRemaining == 0 }

    /// Head and body as one buffer when one of them is empty or the body
    /// starts where the head ends (a 200 from the cache, built as one piece),
    /// else nil.
    var headAndBodyJoined: UnsafeRawBufferPointer? {
        if body.isEmpty { return head }
        if head.isEmpty { return body }
        guard head.baseAddress.unsafelyUnwrapped + head.count == body.baseAddress else { return nil }
        return UnsafeRawBufferPointer(start: head.baseAddress, count: head.count + body.count)
    }
}

/// Where a proxied request stands, seen from the client's connection.
enum ProxyPhase {
    case none
    /// The request (head, then body) goes upstream; no response head yet.
    case forwarding
    /// The response goes back to the client.
    case relaying
    /// The upstream switched protocols (101): bytes go both ways verbatim until
    /// both sides have closed their direction.
    case tunnel
    /// Every server of the pool is at its `max_connections`: the request waits
    /// in the pool's queue, its head unconsumed in the request buffer (parsed
    /// again when it leaves), nothing read meanwhile.
    case queued
}

/// How a request left its pool's queue, for the second parse of its head.
enum QueueExit {
    case none
    /// A server has room: the request goes on (back in its turn, at the
    /// queue's front, should it find none after all).
    case served
    /// It waited `queue_timeout_ms`: 503.
    case timedOut
    /// The server stopped accepting (a graceful stop): 503, and the connection closes.
    case stopped
    /// A reload replaced its pool: it goes on with the new one, in its turn
    /// among those that waited with it (back in the new pool's queue, in the
    /// order of arrival and with the time it came, should it find no room).
    case replaced
}

/// The server's state of one connection, kept in a table indexed by the
/// socket's slot: no object per connection, nothing allocated when one opens.
/// A slot is a client's connection, or one of the proxy's upstream connections.
struct HTTPConnection {
    var socket: Socket
    var isOpen = false
    var parser: HTTPRequestParser
    /// Bytes of the request buffer in use: the current request head and any
    /// pipelined bytes after it.
    var buffered = 0
    /// The most of the request buffer, and of the forward buffer, this
    /// connection has used: closing gives the pages back when one is past a page.
    var highWater = 0
    var forwardHighWater = 0
    /// Body bytes of the current request still to be skipped (the static server
    /// has no use for request bodies, but must stay in step with the framing).
    var bodyToSkip = 0
    var output = PendingOutput()
    /// The cache generation `output` points into.
    var outputGeneration = 0
    /// Close once `output` is written (Connection: close, HTTP/1.0, errors).
    var closeAfterOutput = false
    /// Our direction is shut down after the last response; what the client still
    /// sends is read and dropped until it closes or `lingerTimeout` passes
    /// (RFC 9112 §9.6), since closing with unread bytes would reset the connection.
    var lingerSince: Instant?
    /// When the first byte of the request being received arrived (header timeout),
    /// nil between requests.
    var requestStarted: Instant?
    /// When the first byte of the request being answered arrived, and when it
    /// went upstream (the access log's request and upstream times).
    var exchangeStarted = Instant.zero
    /// Whether a request of this connection has been answered: between requests,
    /// such a connection is kept alive; one without is new, its first request
    /// likely on the way.
    var hasAnswered = false
    var upstreamStarted = Instant.zero
    /// Last time bytes moved either way (keep-alive idle timeout).
    var lastActivity = Instant.zero
    /// When the connection was accepted (handshake timeout).
    var opened = Instant.zero
    /// HTTPS: the connection's TLS state, which every byte passes through; nil for plain HTTP.
    var tls: TLSStream?
    /// HTTPS: the handshake is done and counted.
    var tlsEstablished = false
    /// The response in progress answers the health path (`HTTPServer+Health`).
    var isHealthAnswer = false
    /// The status and content length of the response in progress, for the access log.
    var status = HTTPStatus.ok
    var contentLength = 0
    /// The client's address, for the access log and X-Forwarded-For.
    var client = IPAddress.anyIPv4
    /// Client: bytes of the proxied request's line kept in the head buffer for
    /// the access log (the request buffer moves on before the response comes).
    var proxiedRequestLine = 0

    /// `serve` is running for this connection (a call for it now would re-enter it).
    var isBeingServed = false
    /// Queued for `serve` once the current events are handled (`HTTPServer.deferServe`).
    var servePending = false

    // MARK: reverse proxy
    /// This slot is the proxy's connection to an upstream server.
    var isUpstream = false
    /// The slot on the other side of a proxied exchange, or -1.
    var peer: Int32 = -1
    /// Client: where its proxied request stands.
    var proxy = ProxyPhase.none
    /// Client: request body bytes still to forward (Content-Length framing).
    var bodyToForward = 0
    /// Client: its proxied request was HTTP/1.0, which cannot read chunked framing.
    var proxiedHTTP10 = false
    /// Client: its proxied request was a HEAD (a response without a body is due).
    var proxiedHEAD = false
    /// Client: its request's key in a `consistent_hash` pool (kept for a retry).
    var balanceKey: UInt64 = 0
    /// Client: its proxied request asked to switch protocols (Upgrade, no body).
    var asksUpgrade = false
    /// Tunnel: this side has closed its direction (end of stream read), and
    /// our direction towards it is shut down (its peer's end passed on).
    var tunnelReadDone = false
    var tunnelWriteShut = false
    /// Client: the route its proxied request took, and the route set it belongs to
    /// (`UpstreamPools.routesGeneration`), for the response's header edits.
    var route = 0
    var routesGeneration = 0
    /// Client: its proxied request may still go to another server once, should
    /// its upstream fail before any response byte (idempotent, no body).
    var mayRetry = false
    /// Client: the relayed response is chunked upstream and goes to it decoded
    /// (an HTTP/1.0 client), delimited by the close.
    var decodesResponse = false
    /// Client: the pool whose queue holds its request (`ProxyPhase.queued`), its
    /// place there, since when it waits, and how the request left the queue
    /// (its head is parsed again then).
    var queuedPool = -1
    var queueTicket = UpstreamQueue.Ticket()
    var queuedSince = Instant.zero
    var queueExit = QueueExit.none
    /// Client: the request body is chunked; the decoder finds its end.
    var forwardsChunked = false
    var chunkDecoder = HTTPChunkedDecoder()
    /// Upstream: the server (index in `UpstreamPools.servers`).
    var server = -1
    /// Upstream: the response being relayed.
    var response = HTTPResponseParser()
    /// Upstream: the connection is not established yet.
    var isConnecting = false
    /// Upstream: nothing says the connection cannot carry another request
    /// (false once the upstream sent bytes beyond its response).
    var reusable = true
    /// Upstream: an active health check's connection (`HTTPServer+HealthChecks`), never a client's.
    var isHealthCheck = false
    /// Upstream: parked for reuse, no request in flight.
    var isIdle = false
    /// Upstream: taken from the idle pool for the request in flight (the server
    /// may have closed it meanwhile).
    var wasReused = false
    /// Upstream: when the connect, the next request write or the next response byte is overdue.
    var deadline = Instant.zero
    /// Upstream: the timeouts of the route its request came by.
    var timeouts = UpstreamTimeouts()
    /// Upstream: response bytes read but not yet parsed, at the front of its
    /// buffer: those behind an interim (1xx) head relayed to a client that has
    /// not taken it whole yet.
    var unparsed = 0
    /// Upstream: bytes of the forwarded request head in its forward buffer (kept for a retry).
    var forwardedHeadBytes = 0

    /// Nothing in flight either way: no response to write, no request bytes,
    /// no proxied exchange.
    var isBetweenRequests: Bool { output.isEmpty && buffered == 0 && proxy == .none }

    /// A client's kept-alive connection waiting for its next request.
    var isBetweenKeptAliveRequests: Bool {
        isOpen && lingerSince == nil && hasAnswered && !isUpstream && isBetweenRequests && !closeAfterOutput
    }

    /// The first `end` bytes of the request buffer hold data now.
    mutating func usesRequestBuffer(upTo end: Int) { highWater = max(highWater, end) }

    /// The first `end` bytes of the forward buffer hold a head now.
    mutating func usesForwardBuffer(upTo end: Int) { forwardHighWater = max(forwardHighWater, end) }

    /// A slot with no connection, whose requests will be checked against `limits`.
    init(limits: HTTPLimits) {
        socket = Socket(rawValue: 0)
        parser = HTTPRequestParser(limits: limits)
    }

    /// Becomes a new connection on `socket`, opened at `now`: a copy of
    /// `unopened` (an `init(limits:)` value the server keeps for its current
    /// limits) and four stores. Building this struct of about a kilobyte field
    /// by field for every connection cost several times the copy.
    mutating func open(as unopened: HTTPConnection, socket: Socket, now: Instant) {
        self = unopened
        self.socket = socket
        isOpen = true
        lastActivity = now
        opened = now
    }
}
