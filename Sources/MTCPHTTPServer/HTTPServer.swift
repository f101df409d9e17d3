import Glibc
import Logging
import MTCP
import MTCPEventLog
import MTCPHTTP
import MTCPTLS

/// The HTTP/1.1 static-file server of one core (RFC 9110/9112): keep-alive,
/// pipelining (responses in order, one at a time), HTTP/1.0, strict limits with
/// the right status, header and idle timeouts, static content from a per-core
/// cache of pre-built responses.
///
/// It is written against the socket and event API and runs on the engine's
/// thread: each iteration takes the ready sockets of its event poll (edge
/// triggered) and serves each until it would block. Per-connection state lives in
/// a table indexed by the socket's slot, request heads in `ConnectionMemory`:
/// nothing is allocated per connection or per request.
public struct HTTPServer<Device: PacketDevice>: EngineApplication, ~Copyable {
    var options: HTTPServerOptions {
        didSet { unopenedConnection = HTTPConnection(limits: options.limits) }
    }
    /// What a slot is copied from when a connection opens (`HTTPConnection.open`).
    private(set) var unopenedConnection: HTTPConnection
    /// Where reloads publish new options (nil: a reload only rereads the files).
    let configurationSource: ReloadableConfiguration?
    /// The generation of `configurationSource` that `options` came from.
    var optionsGeneration = 0
    var cache: StaticFileCache
    let errors: HTTPErrorResponses
    var accessLog: AccessLogWriter
    var clock: HTTPDateClock
    public internal(set) var statistics = HTTPServerStatistics()
    var poll: EventPoll?
    var listener: Socket?
    /// HTTPS: this core's TLS context and listener (nil without `options.https`).
    /// A reload makes a new context for new connections; each open connection's
    /// TLS stream holds a reference to the context it started with.
    var tlsContext: OpaquePointer?
    var tlsListener: Socket?
    /// Room for ciphertext on its way between a socket and a TLS stream.
    let tlsScratch: UnsafeMutableRawBufferPointer
    /// Events of this core (failures, timeouts, upstream health) on the event log.
    var eventLog: HTTPServerEventLog
    var connections = UnsafeMutableBufferPointer<HTTPConnection>(start: nil, count: 0)
    var memory = ConnectionMemory(slots: 0, headBytes: 0, requestBytes: 0, forwardBytes: 0)
    /// Room for a normalised request path (the cache's lookup key).
    let pathBuffer: UnsafeMutableRawBufferPointer
    /// Room for file bytes on their way from disk to a send buffer.
    let fileBuffer: UnsafeMutableRawBufferPointer
    let events = UnsafeMutableBufferPointer<EventPollEvent>.allocate(capacity: 512)
    var nextSweep = Instant.zero
    var upstreams: UpstreamPools
    /// The client TLS contexts and sessions of the HTTPS pools, made with `upstreams`.
    var upstreamTLS: UpstreamTLSContexts
    /// Serves of a connection begun while one was running for it (for tests:
    /// re-entry leaves the outer call going on from a state it did not expect).
    var reenteredServes = 0
    /// Slots to serve once the current events are handled (`deferServe`);
    /// room for every slot is reserved at start, so queuing never allocates.
    var deferredServes: [Int32] = []
    /// A stop has begun with a drain (`startDraining`).
    public internal(set) var isDraining = false
    /// The stop has come to `stopAccepting` (the listeners are closed): the
    /// core waits for its connections to end, and opens or keeps none for later.
    var isStopping: Bool { listener == nil && tlsListener == nil }

    /// Builds the core's cache from the document root (on the core's own thread).
    /// With a `configurationSource`, `options` are its current ones and reloads
    /// take what it publishes later. Events go to `logger` (the core's, from
    /// the program's `EventLog`).
    public init(options: HTTPServerOptions, configurationSource: ReloadableConfiguration? = nil,
                logger: Logger = EventLog(program: "mtcp-httpd").logger()) throws {
        self.options = options
        unopenedConnection = HTTPConnection(limits: options.limits)
        eventLog = HTTPServerEventLog(logger: logger)
        self.configurationSource = configurationSource
        optionsGeneration = configurationSource?.current.generation ?? 0
        upstreams = UpstreamPools(options)
        let now = Self.unixTime()
        clock = HTTPDateClock(now: now)
        // Both may fail: built as locals, so a failure of the second frees the first.
        let cache = try StaticFileCache(configuration: options.cache, now: now)
        let accessLog = try AccessLogWriter(path: options.accessLogPath, format: options.accessLogFormat)
        let tlsContext = try options.https.map { https throws(TLSSetupError) in
            try TLSContextFactory.server(https.settings)
        }
        do {
            upstreamTLS = try UpstreamTLSContexts(upstreams, options)
        } catch {
            if let tlsContext { TLSContextFactory.free(tlsContext) }
            throw error
        }
        self.cache = cache
        self.accessLog = accessLog
        self.tlsContext = tlsContext
        self.cache.refreshDate(clock)
        errors = HTTPErrorResponses(serverName: options.cache.serverName, now: now)
        pathBuffer = .allocate(byteCount: options.limits.maxRequestLineLength + 1, alignment: 16)
        fileBuffer = .allocate(byteCount: 64 << 10, alignment: 64)
        tlsScratch = .allocate(byteCount: 64 << 10, alignment: 64)
    }

    deinit {
        for connection in connections where connection.isOpen { connection.tls?.free() }
        if let tlsContext { TLSContextFactory.free(tlsContext) }
        tlsScratch.deallocate()
        memory.unmap()
        connections.deallocate()
        pathBuffer.deallocate()
        fileBuffer.deallocate()
        events.deallocate()
    }

    public mutating func start(_ context: inout SocketContext<Device>) throws {
        let poll = try context.createEventPoll()
        self.poll = poll
        let listener = try context.socket()
        try context.bind(listener, port: options.port)
        try context.listen(listener)
        try context.control(poll, .add, listener, events: .input, data: listener.rawValue)
        self.listener = listener
        if let https = options.https {
            let tlsListener = try context.socket()
            try context.bind(tlsListener, port: https.port)
            try context.listen(tlsListener)
            try context.control(poll, .add, tlsListener, events: .input, data: tlsListener.rawValue)
            self.tlsListener = tlsListener
        }
        deferredServes.reserveCapacity(context.socketCapacity)
        connections = .allocate(capacity: context.socketCapacity)
        connections.initialize(repeating: unopenedConnection)
        memory.unmap()
        memory = ConnectionMemory(slots: context.socketCapacity, headBytes: StaticFileCache.minimumScratchBytes,
                                  requestBytes: options.limits.maxHeadLength,
                                  forwardBytes: options.limits.maxHeadLength + 512 + HTTPHeaderEdits.maxAddedBytes)
        nextSweep = context.now + .seconds(1)
    }

    public mutating func handle(_ context: inout SocketContext<Device>) {
        defer {
            serveWaiting(&context)
            serveDeferred(&context)
        }
        if context.now >= nextSweep {
            nextSweep = context.now + .seconds(1)
            sweep(&context)
        }
        // A second round serves connections accepted in the first: their request
        // often came with the handshake's ACK, and answering now lets the response
        // carry our ACK instead of a bare ACK going out first.
        guard let poll else { return }
        for _ in 0..<2 {
            let count = context.wait(poll, into: events)
            guard count > 0 else { return }
            for event in events[0..<count] {
                let socket = Socket(rawValue: event.data)
                if socket == listener || socket == tlsListener {
                    acceptAll(from: socket, &context)
                } else if event.events.contains(.error) {
                    let index = Int(socket.index)
                    if connections[index].isIdle {
                        closeParked(index, &context, reset: true)
                    } else if connections[index].isUpstream {
                        upstreamFailed(index, .badGateway, &context)
                    } else {
                        closeConnection(index, &context, reset: true)
                    }
                } else {
                    serve(Int(socket.index), &context)
                }
            }
        }
    }

    /// Queues connection `index` to be served after the events at hand, not
    /// from inside whatever is running (possibly its own serve, which would
    /// go on afterwards from a state it did not expect).
    mutating func deferServe(_ index: Int) {
        guard !connections[index].servePending else { return }
        connections[index].servePending = true
        deferredServes.append(Int32(index))
    }

    /// Serves the queued connections, and those queued meanwhile, one at a time.
    private mutating func serveDeferred(_ context: inout SocketContext<Device>) {
        while let slot = deferredServes.popLast() {
            let index = Int(slot)
            // A slot closed and taken by a new connection since is not pending.
            guard connections[index].servePending else { continue }
            connections[index].servePending = false
            if connections[index].isOpen { serve(index, &context) }
        }
    }

    public func counters() -> [ApplicationCounter] { statistics.counters + upstreams.counters }

    /// On a stop signal: no new connections, and kept-alive connections that are
    /// between requests are closed now; the others finish their response first.
    public mutating func stopAccepting(_ context: inout SocketContext<Device>) {
        if let listener { try? context.close(listener) }
        if let tlsListener { try? context.close(tlsListener) }
        listener = nil
        tlsListener = nil
        for index in connections.indices where connections[index].isOpen && connections[index].lingerSince == nil {
            if connections[index].isIdle {
                closeParked(index, &context, reset: false)
            } else if connections[index].isUpstream {
                continue  // ends with its exchange
            } else if connections[index].isBetweenRequests {
                closeConnection(index, &context, reset: false)
            } else if connections[index].proxy == .queued || connections[index].queueExit != .none {
                // Its head is yet to be (parsed again and) answered: 503 with a close (`startProxy`).
                connections[index].queueExit = .stopped
            } else {
                connections[index].closeAfterOutput = true
            }
        }
        // Requests waiting for a server sent nothing upstream: 503 now (their
        // connections close after it), not a teardown at the end of the grace.
        for slot in upstreams.takeAllWaiting() {
            leaveQueue(Int(slot), .stopped, now: context.now)
            serve(Int(slot), &context)
        }
    }

    /// Takes the connections waiting on `listener`; those of the HTTPS listener
    /// get a TLS stream, which waits for the client's hello.
    private mutating func acceptAll(from listener: Socket, _ context: inout SocketContext<Device>) {
        guard let poll else { return }
        let secure = listener == tlsListener
        while let socket = try? context.accept(listener) {
            let index = Int(socket.index)
            connections[index].open(as: unopenedConnection, socket: socket, now: context.now)
            if secure {
                guard let tlsContext, let stream = TLSStream.server(tlsContext) else {
                    statistics.tlsHandshakeFailures &+= 1  // OpenSSL could not allocate
                    try? context.abort(socket)
                    connections[index].isOpen = false
                    continue
                }
                connections[index].tls = stream
            }
            connections[index].client = (try? context.peerAddress(of: socket))?.address ?? .anyIPv4
            statistics.connectionsAccepted &+= 1
            try? context.control(poll, .add, socket, events: [.input, .output, .edgeTriggered], data: socket.rawValue)
        }
    }

    /// Once a second: the Date of every response, and the timeouts.
    private mutating func sweep(_ context: inout SocketContext<Device>) {
        if clock.update(now: Self.unixTime()) {
            cache.refreshDate(clock)
            errors.refreshDate(clock)
        }
        accessLog.flush()
        let now = context.now
        options.https?.settings.ticketKeys.rotateIfDue(now: now)
        for index in connections.indices where connections[index].isOpen {
            let connection = connections[index]
            if connection.isUpstream {
                // Upstream deadlines (504, as nginx answers "upstream timed out"):
                // connecting, sending the request, waiting for response bytes; a
                // health check's own (`runHealthChecks`), which fails the check.
                // A parked connection's is its idle time (`UpstreamPools.idleTimeout`).
                if connection.isIdle && now > connection.deadline {
                    closeParked(index, &context, reset: false)
                } else if (connection.peer >= 0 || connection.isHealthCheck) && now > connection.deadline
                            && !waitsOnAClientThatReads(index, now: now) {
                    upstreamFailed(index, .gatewayTimeout, &context)
                }
            } else if connection.tls != nil && !connection.tlsEstablished {
                // A client that stalls its handshake (or vanished in the middle of it)
                // would otherwise hold the connection until the idle timeout.
                if let https = options.https, now.since(connection.opened) > https.handshakeTimeout {
                    statistics.tlsHandshakeTimeouts &+= 1
                    closeConnection(index, &context, reset: true)
                }
            } else if let since = connection.lingerSince {
                // Long enough for the response to have arrived: a reset now (if the
                // client is still sending) no longer loses it.
                if now.since(since) > options.lingerTimeout { closeConnection(index, &context, reset: false) }
            } else if isWithholdingBody(index, now: now), isPaired(index, with: Int(connection.peer)) {
                statistics.headerTimeouts &+= 1
                let upstream = Int(connection.peer)
                connections[upstream].isConnecting = false  // the client's failure, not the server's
                upstreamFailed(upstream, .requestTimeout, &context)
            } else if connection.proxy != .none {
                continue  // its upstream's deadline governs
            } else if let started = connection.requestStarted, connection.output.isEmpty,
                      connection.queueExit == .none,  // else back from the queue, its head about to be parsed again
                      now.since(started) > options.headerTimeout {
                statistics.headerTimeouts &+= 1
                eventLog.headerTimedOut(connection: index, client: connection.client, second: clock.second)
                connections[index].exchangeStarted = started
                respondWithError(index, .requestTimeout, &context)
                recordAccess(index, now: now, requestLine: .init(start: nil, count: 0))
                serve(index, &context)
            } else if now.since(connection.lastActivity) > options.idleTimeout {
                statistics.idleTimeouts &+= 1
                closeConnection(index, &context, reset: !connection.output.isEmpty)
            }
        }
        runHealthChecks(&context)
    }

    /// SIGHUP, once accepted: takes the options published since the last reload
    /// (when there are new ones), rebuilds the cache from disk with them, and
    /// makes new TLS contexts, the server's and the HTTPS pools' (a certificate,
    /// key or CA file may have been replaced at the same paths; the pools'
    /// kept sessions go with their old contexts). New connections get all of
    /// it; open ones keep their limits, TLS stream and upstream exchange. Responses from the generation
    /// before the previous one are about to lose their memory: connections still
    /// writing one (clients that read nothing through two reloads) are reset;
    /// proxied exchanges, whose bytes are in their own slots, go on.
    ///
    /// All or nothing: when the cache or a TLS context cannot be made, the
    /// error is thrown and the core goes on with the whole previous
    /// configuration (never new headers beside an old certificate).
    public mutating func reload(_ context: inout SocketContext<Device>) throws {
        let published = configurationSource?.current
        let next = published?.options ?? options
        let nextUpstreams = UpstreamPools(next)
        let freshUpstreamTLS = try UpstreamTLSContexts(nextUpstreams, next)
        let freshTLS = try next.https.map { https throws(TLSSetupError) in try TLSContextFactory.server(https.settings) }
        do {
            try cache.reload(configuration: next.cache, now: clock.second)
        } catch {
            if let freshTLS { TLSContextFactory.free(freshTLS) }
            throw error
        }
        if let freshTLS {
            if let tlsContext { TLSContextFactory.free(tlsContext) }  // open streams keep their reference
            tlsContext = freshTLS
        }
        let generation = upstreams.routesGeneration + 1
        var waited: [Int32] = []
        if nextUpstreams.hasSameTargets(as: upstreams) {
            upstreams.routes = nextUpstreams.routes
        } else {
            waited = replaceUpstreams(with: nextUpstreams, &context)
        }
        upstreams.routesGeneration = generation
        // Kept sessions go with the contexts they were made under.
        upstreamTLS = freshUpstreamTLS
        options = next
        optionsGeneration = published?.generation ?? optionsGeneration
        for index in connections.indices where connections[index].isOpen && !connections[index].output.isEmpty
            && connections[index].outputGeneration < cache.generation - 1 && !isProxying(index) {
            closeConnection(index, &context, reset: true)
            statistics.reloadResets &+= 1
        }
        // The same for what the stack still sends by reference from that
        // memory, written already, maybe by connections closed since.
        statistics.reloadResets &+= UInt64(context.resetConnections(
            referencingTagsBelow: UInt32(truncatingIfNeeded: max(0, cache.generation - 1))))
        cache.freeDroppedGeneration()  // nothing sends from it any more
        // Requests that waited for the replaced pools go on with the new ones
        // now, oldest first: before any request that comes after the reload
        // can take the room it makes. Each keeps the time it came (its queue
        // timeout is not restarted) and, finding no room, its turn.
        for slot in waited { leaveQueue(Int(slot), .replaced, now: context.now) }
        for slot in waited { serve(Int(slot), &context) }
    }

    /// Whether connection `index` is an upstream one, or a client in a proxied
    /// exchange: what it writes lies in its own slot's memory, never in the
    /// cache, so a reload takes nothing from under it.
    private func isProxying(_ index: Int) -> Bool {
        connections[index].isUpstream || connections[index].proxy != .none
    }

    /// New pools or servers: idle kept-alive upstream connections are closed;
    /// exchanges in flight finish, counted as requests in flight of their
    /// server in the new set if it stays there (else of none): a server's
    /// `max_connections` holds across the reload. Returns the clients that
    /// waited in the old queues, oldest first in each pool's, taken out.
    private mutating func replaceUpstreams(with fresh: consuming UpstreamPools,
                                           _ context: inout SocketContext<Device>) -> [Int32] {
        for index in connections.indices where connections[index].isOpen && connections[index].isUpstream {
            if connections[index].isIdle || connections[index].isHealthCheck {
                closeConnection(index, &context, reset: connections[index].isHealthCheck)
            } else {
                let server = fresh.index(of: connections[index].server, in: upstreams)
                connections[index].server = server ?? -1
                if let server { fresh.opened(server) }
            }
        }
        let waited = upstreams.takeAllWaiting()
        upstreams = fresh
        return waited
    }

    /// SIGUSR1: lines written so far stay in the file that was open (renamed by
    /// logrotate); later ones go to a new file at the configured path.
    public mutating func reopenLogs() {
        if let problem = accessLog.reopen() { eventLog.accessLogNotReopened(problem) }
    }

    /// Gives the socket back; a reset when the peer must not wait for more.
    mutating func closeConnection(_ index: Int, _ context: inout SocketContext<Device>,
                                  reset: Bool) {
        guard connections[index].isOpen else { return }
        let connection = connections[index]
        connections[index].isOpen = false
        if connection.output.file >= 0 { close(connection.output.file) }
        if let stream = connection.tls {
            // An upstream's close_notify (RFC 8446 §6.1): a client's went with its last response.
            if connection.isUpstream && !reset { _ = try? stream.close(connection.socket, &context, scratch: tlsScratch) }
            stream.free()
            connections[index].tls = nil
        }
        if !connection.isUpstream, connection.peer >= 0, connections[Int(connection.peer)].peer == Int32(index) {
            // The client went away: its upstream exchange cannot finish.
            connections[Int(connection.peer)].peer = -1
            closeConnection(Int(connection.peer), &context, reset: true)
        }
        if connection.proxy == .queued {
            upstreams.leaveQueue(connection.queueTicket, pool: connection.queuedPool)
        } else if connection.isHealthCheck {
            upstreams.checkClosed(connection.socket, server: connection.server)
        } else if connection.isUpstream {
            upstreams.closed(connection.server)
        }
        if reset { try? context.abort(connection.socket) } else { try? context.close(connection.socket) }
        memory.release(index, touched: max(connection.highWater, connection.forwardHighWater))
    }

    static func unixTime() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }

    /// Logs the response chosen for connection `index` at `now` (when the log is
    /// on); `proxied` when it is the upstream's answer or failure.
    mutating func recordAccess(_ index: Int, now: Instant, requestLine: UnsafeRawBufferPointer,
                               referer: UnsafeRawBufferPointer? = nil, userAgent: UnsafeRawBufferPointer? = nil,
                               proxied: Bool = false) {
        guard accessLog.isEnabled else { return }
        let requestTime = now.since(connections[index].exchangeStarted)
        let upstreamTime = now.since(connections[index].upstreamStarted)
        accessLog.record(client: connections[index].client, now: clock.second, requestLine: requestLine,
                         status: connections[index].status, bytes: connections[index].contentLength,
                         referer: referer, userAgent: userAgent, requestMilliseconds: Self.milliseconds(requestTime),
                         upstreamMilliseconds: proxied ? Self.milliseconds(upstreamTime) : nil)
    }

    private static func milliseconds(_ span: TimeSpan) -> Int { Int(span.nanoseconds / 1_000_000) }
}
