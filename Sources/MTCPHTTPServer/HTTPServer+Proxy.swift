import Glibc
import MTCP
import MTCPHTTP
import MTCPTLS

/// The reverse proxy: requests under a route's prefix go to a server of its
/// upstream pool over a kept-alive connection opened with the stack's active
/// open; request and response bodies stream through with backpressure (each
/// side is read only as fast as the other takes the bytes). Heads are rebuilt
/// by `HTTPProxyHeads` (README: the proxy's header policy); a chunked request
/// body is re-chunked canonically, a chunked response decoded for an HTTP/1.0
/// client, other bodies pass unchanged.
extension HTTPServer {
    /// What a client that sent `Expect: 100-continue` gets before its body is read.
    static var continueResponse: StaticString { "HTTP/1.1 100 Continue\r\n\r\n" }

    /// Sends client `index`'s request `head` to a server of `route`'s pool, with
    /// `path` (normalised) and `query` (a span of the target): 400 when the target
    /// could mean another path upstream, 502 at once when every server of the
    /// pool is marked down or no connection can be opened.
    mutating func startProxy(_ index: Int, _ head: HTTPRequestHead,
                             in request: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer,
                             query: HTTPByteSpan?, route: Int,
                             _ context: inout SocketContext<Device>) {
        let pool = upstreams.routes[route].pool
        let target = head.target.bytes(in: request)
        let authority = HTTPTargetPath.absoluteFormAuthority(target).map { $0.bytes(in: target) }
        guard HTTPProxyTarget.isForwardable(path), authority.map(HTTPRequestParser.isValidHost) ?? true else {
            return respondWithError(index, .badRequest, &context)  // and close, as after any 400
        }
        if HTTPProxyHeads.maxForwards(head, in: request) == 0 {
            // The proxy is the final recipient (RFC 9110 §7.6.2): answered as the static server answers these.
            return respondWithError(index, head.method == .options ? .noContent : .methodNotAllowed, &context)
        }
        let key = upstreams.pools[pool].balance == .consistentHash ? balanceKey(index, head, in: request, pool: pool) : 0
        connections[index].balanceKey = key
        let exit = connections[index].queueExit
        if exit == .timedOut || exit == .stopped {
            if exit == .stopped { connections[index].closeAfterOutput = true }
            return respondWithError(index, .serviceUnavailable, &context, headOnly: head.method == .head)
        }
        if exit == .none && upstreams.hasWaiting(in: pool) && upstreams.mustWait(in: pool, now: context.now) {
            return wait(index, in: pool, since: context.now, again: false, headOnly: head.method == .head, &context)
        }
        guard let server = upstreams.chooseServer(in: pool, key: key, now: context.now) else {
            if upstreams.mustWait(in: pool, now: context.now) {
                // One that waited before (found no room after all, or its pool was
                // replaced by a reload) keeps its turn and the time it came.
                let since = exit == .none ? context.now : connections[index].queuedSince
                return wait(index, in: pool, since: since, again: exit != .none, headOnly: head.method == .head, &context)
            }
            // The connection stays open: a HEAD's answer must end at its head.
            return respondWithError(index, .badGateway, &context, headOnly: head.method == .head)
        }
        if head.body == .chunked && upstreams.servers[server].speaksHTTP10 {
            // RFC 9112 §6.1: no chunked request to a server known (by its last
            // response) to be HTTP/1.0; the body is not buffered to count it, so
            // the client is asked for a Content-Length. Its body is unread: close.
            connections[index].closeAfterOutput = true
            return respondWithError(index, .lengthRequired, &context)
        }
        guard let upstream = upstreamConnection(to: server, &context) else {
            return respondWithError(index, .badGateway, &context, headOnly: head.method == .head)
        }
        // Only a request without a body is tunnelled: bytes after its head can only be the new protocol's.
        let upgrade = head.body == .none || head.body == .contentLength(0)
            ? head.upgrade.flatMap { HTTPProxyHeads.mayTunnel($0.bytes(in: request)) ? $0 : nil } : nil
        var writer = HTTPByteWriter(memory.forward(upstream))
        let forwarded = withUnsafeTemporaryAllocation(byteCount: 96, alignment: 1) { text in
            var addresses = HTTPByteWriter(text)
            addresses.append(peerAddress: HTTPPeerAddress(connections[index].client))
            let client = addresses.count
            let clientHost = authority ?? head.host?.bytes(in: request)
            var host = clientHost
            if host == nil {
                // HTTP/1.0 without Host: the upstream's own name, as nginx sends.
                let upstream = upstreams.servers[server].address
                if !upstream.isIPv4 { addresses.append(byte: UInt8(ascii: "[")) }
                addresses.append(peerAddress: HTTPPeerAddress(upstream))
                if !upstream.isIPv4 { addresses.append(byte: UInt8(ascii: "]")) }
                addresses.append(byte: UInt8(ascii: ":"))
                addresses.append(decimal: Int(upstreams.servers[server].port))
                host = UnsafeRawBufferPointer(rebasing: addresses.written[client...])
            }
            let forwarding = HTTPProxyHeads.Forwarding(
                path: path, query: query.map { $0.bytes(in: target) }, host: host!, clientHost: clientHost,
                client: UnsafeRawBufferPointer(rebasing: addresses.written[0..<client]),
                upgrade: upgrade?.bytes(in: request), secure: connections[index].tls != nil, trusted: options.trusts(connections[index].client))
            return HTTPProxyHeads.forwardRequest(head, in: request, forwarding, policy: upstreams.routes[route].headers,
                                                 into: &writer)
        }
        guard forwarded else {
            // The client's fault, not the connection's: a kept-alive one goes back to the pool.
            if !connections[upstream].wasReused || !park(upstream, &context) {
                closeConnection(upstream, &context, reset: true)
            }
            return respondWithError(index, .requestHeaderFieldsTooLarge, &context, headOnly: head.method == .head)
        }
        connections[index].proxiedHEAD = head.method == .head
        connections[index].asksUpgrade = upgrade != nil
        connections[index].route = route
        connections[index].routesGeneration = upstreams.routesGeneration
        connections[index].mayRetry = Self.isRetryable(head)
        connections[upstream].timeouts = upstreams.routes[route].timeouts
        dispatch(index, to: upstream, headBytes: writer.count, now: context.now)
        connections[index].proxy = .forwarding
        connections[index].upstreamStarted = context.now
        if accessLog.isEnabled {
            let line = head.requestLine.bytes(in: request)
            let kept = min(line.count, memory.head(index).count)
            memory.head(index).copyMemory(from: UnsafeRawBufferPointer(rebasing: line[0..<kept]))
            connections[index].proxiedRequestLine = kept
        }
        connections[index].status = .badGateway
        connections[index].proxiedHTTP10 = head.version == .http10
        connections[index].decodesResponse = false
        if head.expectsContinue && head.version == .http11 && head.body != .none && head.body != .contentLength(0) {
            // The body streams upstream as it comes, so the proxy invites it itself
            // (as nginx does); the upstream, which gets no Expect, needs no 100.
            connections[index].output = PendingOutput(head: UnsafeRawBufferPointer(
                start: Self.continueResponse.utf8Start, count: Self.continueResponse.utf8CodeUnitCount))
        }
        switch head.body {
        case .none:
            connections[index].bodyToForward = 0
            connections[index].forwardsChunked = false
        case .contentLength(let length):
            connections[index].bodyToForward = length
            connections[index].forwardsChunked = false
        case .chunked:
            connections[index].bodyToForward = 0
            connections[index].forwardsChunked = true
            connections[index].chunkDecoder = HTTPChunkedDecoder(limits: options.limits)
        }
    }

    /// Puts client `index`'s request, waiting since `since`, in `pool`'s queue
    /// (`UpstreamPools.enqueue`), or answers 503 when the queue is full.
    private mutating func wait(_ index: Int, in pool: Int, since: Instant, again: Bool, headOnly: Bool,
                               _ context: inout SocketContext<Device>) {
        guard let ticket = upstreams.enqueue(Int32(index), in: pool, since: since, again: again) else {
            return respondWithError(index, .serviceUnavailable, &context, headOnly: headOnly)
        }
        connections[index].proxy = .queued
        connections[index].queuedPool = pool
        connections[index].queueTicket = ticket
        connections[index].queuedSince = since
    }

    /// Requests of the pools' queues that waited too long get their 503; then,
    /// oldest first, those a server has room for now go on. From `handle`,
    /// once its events are served: whatever freed a server (a response done, a
    /// connection closed) happened among them.
    mutating func serveWaiting(_ context: inout SocketContext<Device>) {
        guard upstreams.waiting > 0 else { return }
        for pool in upstreams.pools.indices {
            while let slot = upstreams.nextWaiting(in: pool, timedOut: true, now: context.now) {
                leaveQueue(Int(slot), .timedOut, now: context.now)
                serve(Int(slot), &context)
            }
            // Each at most once: one that finds no room after all goes back to the front.
            var turns = upstreams.pools[pool].queue.count
            while turns > 0, let slot = upstreams.nextWaiting(in: pool, timedOut: false, now: context.now) {
                turns -= 1
                leaveQueue(Int(slot), .served, now: context.now)
                serve(Int(slot), &context)
            }
        }
    }

    /// Client `index`, taken out of its pool's queue, is to be served again:
    /// its request head, still at the front of its buffer, is parsed again and
    /// goes on as `exit` says. Its close flag stays: a drain (`stopAccepting`)
    /// set it, and the head's Connection: close sets it again anyway. Until its
    /// head is parsed again (`queueExit` back to none) the header timeout spares
    /// it, and its idle time counts from now: it waited for the server, not the client.
    mutating func leaveQueue(_ index: Int, _ exit: QueueExit, now: Instant) {
        connections[index].proxy = .none
        connections[index].queueExit = exit
        connections[index].lastActivity = now
    }

    /// Client `index`'s key in `consistent_hash` pool `pool`: the value of the
    /// pool's `hash_header` (its first non-empty line), or the client's address
    /// when there is none (or no such field).
    private func balanceKey(_ index: Int, _ head: HTTPRequestHead, in request: UnsafeRawBufferPointer,
                            pool: Int) -> UInt64 {
        let value = upstreams.pools[pool].hashHeader?.withUnsafeBytes { head.fields(in: request).firstValue(named: $0) }
        guard let value = value ?? nil else { return clientKey(index, head, in: request) }
        return RendezvousHash.key(of: value.bytes(in: request))
    }

    /// Client `index`'s address as a hash key: the connection's peer or, from a
    /// trusted proxy, the client it forwards for: the rightmost X-Forwarded-For
    /// element that is not itself a trusted proxy (as nginx's `real_ip_recursive`;
    /// elements to its left could be forged), the leftmost when all are. An
    /// element that is no address is keyed by its bytes.
    private func clientKey(_ index: Int, _ head: HTTPRequestHead, in request: UnsafeRawBufferPointer) -> UInt64 {
        let peer = connections[index].client
        guard options.trusts(peer) else { return RendezvousHash.key(of: peer) }
        var first: UInt64?
        var client: UInt64?
        HTTPProxyHeads.forEachForwardedFor(in: head, request) { element in
            // At most 15 bytes for IPv4: a small string, nothing allocated.
            let address = IPAddress(String(decoding: element, as: UTF8.self))
            let key = address.map { RendezvousHash.key(of: $0) } ?? RendezvousHash.key(of: element)
            if first == nil { first = key }
            if address.map({ options.trusts($0) }) != true { client = key }
        }
        return client ?? first ?? RendezvousHash.key(of: peer)
    }

    /// Whether a request may go to a second server after the first failed before
    /// any response byte: a GET or HEAD without a body (RFC 9110 §9.2.2; the
    /// failed server may have acted on it, which repeats harmlessly). Never a
    /// POST, nor anything with a body, which is gone once streamed.
    static func isRetryable(_ head: HTTPRequestHead) -> Bool {
        (head.method == .get || head.method == .head) && (head.body == .none || head.body == .contentLength(0))
    }

    /// Pairs client `client` with `upstream`, whose forward buffer holds the
    /// request head (`headBytes` of it) to send.
    private mutating func dispatch(_ client: Int, to upstream: Int, headBytes: Int, now: Instant) {
        connections[upstream].output = PendingOutput(head: UnsafeRawBufferPointer(
            rebasing: memory.forward(upstream)[0..<headBytes]))
        connections[upstream].forwardedHeadBytes = headBytes
        connections[upstream].usesForwardBuffer(upTo: headBytes)
        connections[upstream].unparsed = 0
        upstreams.sent(to: connections[upstream].server)
        connections[upstream].peer = Int32(client)
        connections[upstream].response.reset(expectingBody: !connections[client].proxiedHEAD,
                                             upgradeRequested: connections[client].asksUpgrade)
        connections[client].peer = Int32(upstream)
        awaitUpstream(upstream, now: now)
    }

    /// Sets `upstream`'s deadline from what it owes now: the connect, room for
    /// request bytes that wait to go, or response bytes.
    private mutating func awaitUpstream(_ upstream: Int, now: Instant) {
        let timeouts = connections[upstream].timeouts
        let client = Int(connections[upstream].peer)
        let sending = !connections[upstream].output.isEmpty || (client >= 0 && isRequestBodyPending(client))
        connections[upstream].deadline = now
            + (connections[upstream].isConnecting ? timeouts.connect : sending ? timeouts.send : timeouts.read)
    }

    /// Sends client `client`'s request again, to another server of the failed
    /// upstream's pool on a connection of its own, when it may be retried and
    /// `failed` sent no byte of a response (garbage is an answer too: the server
    /// may have acted on the request). Returns whether it did; `failed` is
    /// the caller's to close.
    ///
    /// A kept-alive connection that fails so is most likely one the server
    /// closed while it sat idle, just as it was reused (the keep-alive race):
    /// the server is not at fault, so the same one gets the request again on a
    /// fresh connection, and the one retry on another server is kept (as nginx
    /// does for a cached connection).
    private mutating func retry(_ client: Int, after failed: Int, _ context: inout SocketContext<Device>) -> Bool {
        let stale = connections[failed].wasReused
        let failedServer = connections[failed].server
        guard connections[client].mayRetry, connections[client].isOpen, connections[client].proxy == .forwarding,
              connections[client].output.isEmpty, !connections[failed].response.hasStarted,
              let pool = upstreams.pool(of: failedServer),
              let server = stale ? failedServer : upstreams.chooseServer(in: pool, avoiding: failedServer,
                                                                         key: connections[client].balanceKey, now: context.now),
              let upstream = upstreamConnection(to: server, fresh: stale, &context)
        else { return false }
        let headBytes = connections[failed].forwardedHeadBytes
        memory.forward(upstream).copyMemory(from: UnsafeRawBufferPointer(rebasing: memory.forward(failed)[0..<headBytes]))
        if !stale { connections[client].mayRetry = false }
        connections[upstream].timeouts = connections[failed].timeouts
        dispatch(client, to: upstream, headBytes: headBytes, now: context.now)
        statistics.proxyRetries &+= 1
        if !connections[upstream].isConnecting { _ = writeOutput(upstream, &context) }  // a kept-alive one: no event comes
        return true
    }

    /// A kept-alive connection to `server` (unless `fresh`), or a new one being opened.
    private mutating func upstreamConnection(to server: Int, fresh: Bool = false,
                                             _ context: inout SocketContext<Device>) -> Int? {
        while !fresh, let slot = upstreams.takeIdle(server) {
            let index = Int(slot)
            connections[index].isIdle = false
            if connections[index].isOpen && !isOfCurrentTLS(index) {
                closeConnection(index, &context, reset: false)  // sound, but verified under a replaced context
                continue
            }
            if connections[index].isOpen, idleInput(index, &context) == .nothing {
                connections[index].wasReused = true
                return index
            }
            closeConnection(index, &context, reset: true)  // closed or broken while it waited
        }
        guard let index = openConnection(to: server, &context) else { return nil }
        upstreams.opened(server)
        return index
    }

    /// A new connection to `server`, being opened (its slot), or nil when none
    /// can be. A connect fails at once only for want of something local (a
    /// socket, a connection slot, an ephemeral port): that is counted apart and
    /// never against the server, whose refusals and silences arrive later, as
    /// events (`upstreamFailed`), and are the only ones that mark it down.
    mutating func openConnection(to server: Int, _ context: inout SocketContext<Device>) -> Int? {
        guard let poll, let socket = try? context.socket() else {
            statistics.upstreamLocalShortages &+= 1
            return nil
        }
        let target = upstreams.servers[server]
        do {
            try context.connect(socket, to: target.address, port: target.port)
            try context.control(poll, .add, socket, events: [.input, .output, .edgeTriggered], data: socket.rawValue)
        } catch {
            try? context.close(socket)
            statistics.upstreamLocalShortages &+= 1
            return nil
        }
        let stream = upstreamStream(for: server)
        if case .some(nil) = stream {
            try? context.close(socket)
            statistics.upstreamLocalShortages &+= 1  // OpenSSL could not allocate
            return nil
        }
        let index = Int(socket.index)
        connections[index].open(as: unopenedConnection, socket: socket, now: context.now)
        connections[index].tls = stream ?? nil
        connections[index].isUpstream = true
        connections[index].isConnecting = true
        connections[index].server = server
        connections[index].response = HTTPResponseParser(maximumHeadBytes: options.limits.maxHeadLength)
        return index
    }

    /// Events of an upstream connection: connected, room to send, response bytes.
    mutating func serveUpstream(_ index: Int, _ context: inout SocketContext<Device>) {
        if connections[index].isHealthCheck { return serveHealthCheck(index, &context) }
        if connections[index].isIdle {
            // A parked connection has nothing to say: bytes from the server break
            // framing (reset), and its close (FIN or close_notify) ends the
            // connection (cleanly). Any other event (room to send opening as the
            // last response's ACKs go out, a late edge of bytes already read, a
            // record for TLS alone such as a late session ticket) leaves it
            // parked: closing on those threw away the connection after every
            // large response.
            let input = idleInput(index, &context)
            guard !input.canStayIdle else { return }
            return closeParked(index, &context, reset: input == .data)
        }
        if connections[index].isConnecting {
            guard isUpstreamConnected(index, &context) else { return }
            connections[index].isConnecting = false
            upstreams.recordSuccess(connections[index].server)
            awaitUpstream(index, now: context.now)
        }
        let client = Int(connections[index].peer)
        guard client >= 0 else { return closeConnection(index, &context, reset: false) }
        if connections[client].proxy == .tunnel { return pumpTunnel(client, &context) }
        if !connections[index].output.isEmpty {
            guard writeOutput(index, &context) else { return }
            awaitUpstream(index, now: context.now)
        }
        forwardRequestBody(client, &context)
        relayResponse(index, &context)
        if connections[client].isOpen && connections[client].proxy == .none { serve(client, &context) }
    }

    /// The client's side of a proxied exchange: forward body bytes, relay the
    /// response. Returns whether the exchange is over (the client may go on).
    mutating func pumpProxy(_ index: Int, _ context: inout SocketContext<Device>) -> Bool {
        if connections[index].proxy == .queued {
            // Nothing is read while it waits. Its FIN (CLOSE-WAIT) only ends the
            // client's sending side, after a complete request: it is answered in
            // its turn, as a request not kept waiting is (a full close cannot be
            // told from it before the answer meets the client's reset). A reset
            // or a connection gone otherwise leaves the queue with its connection.
            let state = context.state(of: connections[index].socket)
            if state != .established && state != .closeWait { closeConnection(index, &context, reset: true) }
            return false
        }
        if connections[index].proxy == .tunnel {
            pumpTunnel(index, &context)
            return false  // a tunnel ends with the connection
        }
        var upstream = Int(connections[index].peer)
        if isPaired(index, with: upstream), !connections[upstream].isConnecting, !connections[upstream].output.isEmpty {
            // A reused connection is established already: no event will say so,
            // so the forwarded head goes out now.
            if writeOutput(upstream, &context) { awaitUpstream(upstream, now: context.now) }
        }
        forwardRequestBody(index, &context)
        upstream = Int(connections[index].peer)
        if isPaired(index, with: upstream), connections[index].isOpen { relayResponse(upstream, &context) }
        return connections[index].isOpen && connections[index].proxy == .none
    }

    /// Whether `upstream` is client `client`'s open upstream connection, and not
    /// a connection that took its slot since.
    func isPaired(_ client: Int, with upstream: Int) -> Bool {
        upstream >= 0 && connections[upstream].isOpen && connections[upstream].peer == Int32(client)
    }

    /// Moves request body bytes from client `index` to its upstream, as many as
    /// the upstream's send buffer takes.
    private mutating func forwardRequestBody(_ index: Int,
                                             _ context: inout SocketContext<Device>) {
        let upstream = Int(connections[index].peer)
        guard isPaired(index, with: upstream), !connections[upstream].isConnecting,
              connections[upstream].output.isEmpty else { return }
        while connections[index].bodyToForward > 0
            || (connections[index].forwardsChunked && !connections[index].chunkDecoder.isComplete) {
            if connections[index].buffered == 0 {
                guard readRaw(index, &context) else {
                    // Waiting for the client, whose silence `headerTimeout` governs,
                    // not for the upstream: its deadline is the response's.
                    if connections[index].peer == Int32(upstream) {
                        connections[upstream].deadline = context.now + connections[upstream].timeouts.read
                    }
                    return
                }
            }
            let bytes = UnsafeRawBufferPointer(rebasing: memory.request(index)[0..<connections[index].buffered])
            let room = sendRoom(upstream, context)
            let consumed: Int
            let sent: Bool
            if connections[index].forwardsChunked {
                // Room for a chunk's framing too; the upstream's `.output` brings us back.
                guard room > Self.chunkFramingBytes else { return }
                // Over TLS, a chunk and its framing make one record.
                let fits = connections[upstream].tls == nil ? room : min(room, TLSStream.recordPayload)
                let output: HTTPChunkedDecoder.Output
                do {
                    output = try connections[index].chunkDecoder.decode(
                        UnsafeRawBufferPointer(rebasing: bytes.prefix(fits - Self.chunkFramingBytes)))
                } catch {
                    return upstreamFailed(upstream, error.status, &context)  // 400, or 413 / 431 past a limit
                }
                consumed = output.consumed
                sent = writeChunk(output.data.bytes(in: bytes), last: output.isComplete, to: upstream, &context)
            } else {
                consumed = min(bytes.count, room, connections[index].bodyToForward)
                guard consumed > 0 else { return }  // the upstream's `.output` brings us back
                let written = (try? send(upstream, UnsafeRawBufferPointer(rebasing: bytes[0..<consumed]), &context)) ?? 0
                // `consumed` fits the upstream's room: a short write means the upstream failed.
                sent = written == consumed
                connections[index].bodyToForward -= consumed
            }
            guard sent else { return upstreamFailed(upstream, .badGateway, &context) }
            dropFront(index, consumed)
            // Room was taken: the send timeout starts again while bytes remain, then the read timeout.
            awaitUpstream(upstream, now: context.now)
        }
    }

    /// The most framing `writeChunk` adds to its data: 16 hex digits, three CRLFs, `0`.
    static var chunkFramingBytes: Int { 32 }

    /// Writes `data` upstream as one chunk in canonical form (a minimal hex size,
    /// no extension), then the last chunk without trailers when `last`: however
    /// the client framed its chunks, a lax upstream cannot read these lines
    /// differently from our strict decoder. Written in one gathering write (one
    /// record over TLS). Returns false on a short write (the caller left room
    /// for all of it, so the upstream failed).
    private mutating func writeChunk(_ data: UnsafeRawBufferPointer, last: Bool, to upstream: Int,
                                     _ context: inout SocketContext<Device>) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: Self.chunkFramingBytes, alignment: 1) { framing in
            var prefix = HTTPByteWriter(framing)
            if !data.isEmpty {
                prefix.append(hex: UInt64(data.count))
                prefix.append("\r\n")
            }
            let suffixStart = prefix.count
            var suffix = HTTPByteWriter(UnsafeMutableRawBufferPointer(rebasing: framing[suffixStart...]))
            if !data.isEmpty { suffix.append("\r\n") }
            if last { suffix.append("0\r\n\r\n") }
            return withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 3) { pieces in
                pieces[0] = prefix.written
                pieces[1] = data
                pieces[2] = suffix.written
                let total = prefix.count + data.count + suffix.count
                // A size line alone gives no data: nothing to send yet.
                return total == 0 || (try? send(upstream, UnsafeBufferPointer(pieces), &context)) == total
            }
        }
    }

    /// Reads body bytes from a client into its (empty) request buffer. Returns
    /// false when it would block or the exchange ended.
    private mutating func readRaw(_ index: Int, _ context: inout SocketContext<Device>) -> Bool {
        let count: Int
        do {
            count = try receive(index, into: memory.request(index), &context)
        } catch .wouldBlock {
            return false
        } catch {
            closeConnection(index, &context, reset: true)
            return false
        }
        guard count > 0 else {
            closeConnection(index, &context, reset: false)  // the client left in the middle of its body
            return false
        }
        connections[index].buffered = count
        connections[index].usesRequestBuffer(upTo: count)
        connections[index].lastActivity = context.now
        return true
    }

    /// Moves response bytes from upstream `index` to its client while the client
    /// takes them; builds the relayed head once the upstream's head is complete.
    private mutating func relayResponse(_ index: Int, _ context: inout SocketContext<Device>) {
        let client = Int(connections[index].peer)
        while client >= 0, connections[client].isOpen, connections[client].output.isEmpty {
            if connections[index].response.isComplete {
                return finishExchange(index, reusable: isReusable(index, client), &context)
            }
            let headDone = connections[index].response.isHeadComplete
            let start = headDone ? 0 : connections[index].buffered
            let buffer = memory.request(index)
            // Bytes behind an interim head are parsed before any more are read.
            var count = connections[index].unparsed
            if count == 0 {
                guard start < buffer.count else { return upstreamFailed(index, .badGateway, &context) }
                do {
                    count = try receive(index, into: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]), &context)
                } catch .wouldBlock {
                    return
                } catch {
                    return upstreamFailed(index, .badGateway, &context)
                }
                guard count > 0 else {
                    // End of stream: the end of a close-delimited body, or a failure
                    // (a body cut short, or over TLS an end the server did not say).
                    guard (try? connections[index].response.finish()) != nil, upstreamEndIsClean(index) else {
                        return upstreamFailed(index, .badGateway, &context)
                    }
                    connections[client].closeAfterOutput = true
                    return finishExchange(index, reusable: false, &context)
                }
                connections[index].deadline = context.now + connections[index].timeouts.read
            }
            connections[index].unparsed = 0
            connections[index].usesRequestBuffer(upTo: start + count)
            let fresh = UnsafeRawBufferPointer(rebasing: buffer[start..<start + count])
            do {
                if headDone {
                    connections[client].output = PendingOutput(body: try relayedBody(index, client, fresh))
                } else {
                    // One pass up to where the next head ends (interim or final).
                    let position = try connections[index].response.parseHead(fresh)
                    let headEnd = start + position
                    connections[index].buffered = headEnd
                    if connections[index].response.interimHeadBytes > 0 {
                        guard relayInterim(index, client, headEnd: headEnd, &context) else { return }
                        // What follows is the next head's: to the front, parsed next.
                        memmove(buffer.baseAddress!, buffer.baseAddress! + headEnd, count - position)
                        connections[index].buffered = 0
                        connections[index].unparsed = count - position
                        if connections[client].output.isEmpty { continue }
                        guard writeOutput(client, &context) else { return }
                        continue
                    }
                    guard connections[index].response.isHeadComplete else { continue }
                    guard relayHead(index, client, headEnd: headEnd, &context) else { return }
                    if connections[client].proxy == .tunnel {
                        // The rest is the new protocol's first bytes, sent after the 101.
                        connections[client].output.body = UnsafeRawBufferPointer(rebasing: fresh[position...])
                        connections[index].buffered = 0
                        statistics.proxyTunnels &+= 1
                        return pumpTunnel(client, &context)
                    }
                    let body = try relayedBody(index, client, UnsafeRawBufferPointer(rebasing: fresh[position...]))
                    connections[client].output.body = body
                }
            } catch {
                return upstreamFailed(index, .badGateway, &context)
            }
            guard writeOutput(client, &context) else { return }
        }
    }

    /// Parses response bytes `fresh` (in upstream `index`'s buffer) and returns
    /// those of the client's response: as received, or the decoded data moved to
    /// the front of `fresh` when the client gets a chunked body decoded.
    private mutating func relayedBody(_ index: Int, _ client: Int,
                                      _ fresh: UnsafeRawBufferPointer) throws(HTTPResponseParseError) -> UnsafeRawBufferPointer {
        let decodes = connections[client].decodesResponse
        var decoded = 0
        let consumed = try connections[index].response.parse(fresh) { data in
            guard decodes else { return }
            // Pieces come in order, each at or after where the previous one was moved.
            memmove(UnsafeMutableRawPointer(mutating: fresh.baseAddress!) + decoded, data.baseAddress!, data.count)
            decoded += data.count
        }
        if consumed < fresh.count { connections[index].reusable = false }
        return UnsafeRawBufferPointer(rebasing: fresh[0..<(decodes ? decoded : consumed)])
    }

    /// Queues the client's response head, built from the upstream's head that
    /// ends at `headEnd` of its buffer. Returns false when the exchange failed instead.
    private mutating func relayHead(_ index: Int, _ client: Int, headEnd: Int,
                                    _ context: inout SocketContext<Device>) -> Bool {
        let response = connections[index].response
        upstreams.heard(from: connections[index].server, minorVersion: response.minorVersion)
        let head = UnsafeRawBufferPointer(rebasing: memory.request(index)[(headEnd - response.headBytes)..<headEnd])
        // The framing the client gets: the upstream's, except that an HTTP/1.0
        // client gets a chunked body decoded. Without a length, the body ends with
        // the upstream's connection, and the client's connection must end likewise.
        let framing: HTTPBodyFraming
        if let length = response.contentLength {
            framing = .contentLength(length)
        } else if response.isChunked && !connections[client].proxiedHTTP10 {
            framing = .chunked
        } else {
            framing = .none
        }
        connections[client].decodesResponse = response.isChunked && connections[client].proxiedHTTP10
        let framed = framing != .none || response.isComplete
        // An early answer (401, 413...) leaves body bytes unforwarded: where they
        // end is the request's framing, not the response's, so the connection ends.
        let keepAlive = !connections[client].closeAfterOutput && framed && !isRequestBodyPending(client)
        var writer = HTTPByteWriter(memory.forward(client))
        let switches = response.isUpgrade
        let relayed = withResponseEdits(of: client) { edits in
            switches ? HTTPProxyHeads.relaySwitchingProtocols(head, edits: edits, into: &writer)
                : clock.withBytes { date in
                    HTTPProxyHeads.relayResponse(head, framing: framing, keepAlive: keepAlive, date: date, edits: edits,
                                                 into: &writer)
                }
        }
        guard relayed else {
            upstreamFailed(index, .badGateway, &context)
            return false
        }
        if !keepAlive { connections[client].closeAfterOutput = true }
        connections[client].output = PendingOutput(head: writer.written)
        connections[client].usesForwardBuffer(upTo: writer.count)
        connections[client].proxy = switches ? .tunnel : .relaying
        connections[client].status = HTTPStatus(rawValue: response.status)
        connections[client].contentLength = response.contentLength ?? 0
        recordAccess(client, now: context.now, requestLine: proxiedRequestLine(client), proxied: true)
        return true
    }

    /// Queues the interim (1xx) head that ends at `headEnd` of upstream
    /// `index`'s buffer for an HTTP/1.1 client (RFC 9110 §15.2); an HTTP/1.0
    /// client cannot read one, and gets none. Returns false when the exchange
    /// failed instead.
    private mutating func relayInterim(_ index: Int, _ client: Int, headEnd: Int,
                                       _ context: inout SocketContext<Device>) -> Bool {
        guard !connections[client].proxiedHTTP10 else { return true }
        let length = connections[index].response.interimHeadBytes
        let head = UnsafeRawBufferPointer(rebasing: memory.request(index)[(headEnd - length)..<headEnd])
        var writer = HTTPByteWriter(memory.forward(client))
        guard HTTPProxyHeads.relayInterim(head, into: &writer) else {
            upstreamFailed(index, .badGateway, &context)
            return false
        }
        connections[client].output = PendingOutput(head: writer.written)
        connections[client].usesForwardBuffer(upTo: writer.count)
        return true
    }

    /// Calls `body` with the response edits of the route client `client`'s
    /// request came by; none when a reload replaced the routes since.
    private func withResponseEdits<Result>(of client: Int, _ body: (borrowing HTTPHeaderEdits) -> Result) -> Result {
        guard connections[client].routesGeneration == upstreams.routesGeneration else { return body(HTTPHeaderEdits()) }
        return body(upstreams.routes[connections[client].route].headers.response)
    }

    /// Whether client `index` withholds its request body: bytes are due, none
    /// waits to be forwarded, and the client has been silent for `headerTimeout`.
    /// Its upstream connection, held for nothing, is given back (408, then close).
    func isWithholdingBody(_ index: Int, now: Instant) -> Bool {
        connections[index].proxy == .forwarding && isRequestBodyPending(index) && connections[index].buffered == 0
            && now.since(connections[index].lastActivity) > options.headerTimeout
    }

    private func isReusable(_ index: Int, _ client: Int) -> Bool {
        connections[index].response.keepAlive && connections[index].reusable && !isRequestBodyPending(client)
    }

    /// Whether client `index` has request body bytes not yet forwarded.
    func isRequestBodyPending(_ index: Int) -> Bool {
        connections[index].bodyToForward > 0
            || (connections[index].forwardsChunked && !connections[index].chunkDecoder.isComplete)
    }

    /// The response is relayed: park or close the upstream connection; the
    /// client goes on with its next request.
    mutating func finishExchange(_ index: Int, reusable: Bool,
                                 _ context: inout SocketContext<Device>) {
        let client = Int(connections[index].peer)
        if client >= 0, connections[client].peer == Int32(index) {
            connections[client].peer = -1
            if isRequestBodyPending(client) {
                // Never parsed as a next request: the rest is dropped while the
                // connection lingers (the relayed head said Connection: close).
                connections[client].closeAfterOutput = true
                connections[client].bodyToForward = 0
                connections[client].forwardsChunked = false
                connections[client].buffered = 0
            }
            if connections[client].proxy != .none {
                connections[client].proxy = .none
                connections[client].contentLength = connections[index].response.bodyBytes
                finishResponse(client)
            }
        }
        connections[index].peer = -1
        connections[index].buffered = 0
        keepUpstreamSession(index)
        if !reusable || !park(index, &context) { closeConnection(index, &context, reset: false) }
    }

    /// Parks upstream connection `index` (no request in flight) for reuse;
    /// false when its server sent something past its response, keeps enough
    /// idle ones (or is of a replaced configuration), or the server is
    /// stopping: no request will come, and a parked connection would keep the
    /// core from finishing until its idle timeout.
    private mutating func park(_ index: Int, _ context: inout SocketContext<Device>) -> Bool {
        guard !isStopping, isOfCurrentTLS(index) else { return false }
        guard idleInput(index, &context).canStayIdle,
              upstreams.park(Int32(index), server: connections[index].server) else { return false }
        connections[index].isIdle = true
        connections[index].deadline = context.now + UpstreamPools.idleTimeout
        return true
    }

    /// Whether upstream connection `index` is plain, or over TLS made with its
    /// server's context of now (not one a reload replaced).
    private func isOfCurrentTLS(_ index: Int) -> Bool {
        guard let stream = connections[index].tls else { return true }
        return upstreamTLS.isCurrent(stream, server: connections[index].server)
    }

    /// What kept-alive upstream connection `index` (its exchange over) has
    /// heard from its server since: bytes the next request would take for its
    /// response, or its close. Over TLS the socket alone cannot tell:
    /// plaintext past the response may wait inside OpenSSL already, and a
    /// record for TLS itself (a session ticket, a KeyUpdate) is nothing. A bad
    /// record counts as data: the connection cannot be used again.
    private mutating func idleInput(_ index: Int, _ context: inout SocketContext<Device>) -> TLSStream.IdleInput {
        let socket = connections[index].socket
        if let stream = connections[index].tls {
            let input: TLSStream.IdleInput
            do {
                input = try stream.idleInput(socket, &context, scratch: tlsScratch)
            } catch .failed(let failure) {
                upstreamTLSFailed(index, failure)
                return .data
            } catch {
                return .data  // the socket failed under it: not reusable
            }
            if input != .nothing { return input }
        } else if context.readableBytes(socket) > 0 {
            return .data
        }
        return context.state(of: socket) == .established ? .nothing : .closed
    }

    /// Whether upstream `index`'s response is held back by its client alone:
    /// bytes read from the upstream wait for the client, which has taken some
    /// within the idle timeout. The upstream is not read meanwhile, so its read
    /// deadline says nothing: a slow reader is judged by its own pace (as
    /// nginx's `send_timeout`), not cut when one buffer takes it longer than
    /// the route's `upstream_read_ms` to drain.
    func waitsOnAClientThatReads(_ index: Int, now: Instant) -> Bool {
        let client = Int(connections[index].peer)
        guard client >= 0, connections[client].isOpen, connections[client].peer == Int32(index),
              connections[index].response.isHeadComplete,
              !connections[client].output.isEmpty else { return false }
        return now.since(connections[client].lastActivity) <= options.idleTimeout
    }

    /// Closes the parked (idle, kept-alive) upstream connection `index`.
    mutating func closeParked(_ index: Int, _ context: inout SocketContext<Device>, reset: Bool) {
        upstreams.unpark(Int32(index), server: connections[index].server)
        closeConnection(index, &context, reset: reset)
    }

    /// The upstream failed: before the response head the client gets `status`
    /// (502, 504 for a timeout, or the 4xx of a request body it refused) and the
    /// connection closes (its request body may be half sent); after it, the
    /// client's connection is reset, since the response cannot be completed.
    mutating func upstreamFailed(_ index: Int, _ status: HTTPStatus,
                                 _ context: inout SocketContext<Device>) {
        // A second event of a batch for a connection the first one closed: its
        // failure is counted already.
        guard connections[index].isOpen else { return }
        if connections[index].isHealthCheck { return finishHealthCheck(index, passed: false, &context) }
        if connections[index].isConnecting {
            upstreams.recordFailure(connections[index].server, now: context.now)
        }
        let client = Int(connections[index].peer)
        // A failed connection or connect (the request never left), not a slow
        // server (504 after the connect) nor the client's fault (400, 408).
        let connectFailed = status == .badGateway || (status == .gatewayTimeout && connections[index].isConnecting)
        if connectFailed, client >= 0, connections[client].peer == Int32(index),
           retry(client, after: index, &context) {
            connections[index].peer = -1
            return closeConnection(index, &context, reset: true)
        }
        connections[index].peer = -1
        closeConnection(index, &context, reset: true)
        guard client >= 0, connections[client].isOpen, connections[client].peer == Int32(index) else { return }
        connections[client].peer = -1
        // A `100 Continue` the client has not yet taken whole cannot be followed by an
        // error head without splicing the two: such a client is reset instead.
        if connections[client].proxy == .forwarding && connections[client].output.isEmpty {
            connections[client].proxy = .none
            connections[client].bodyToForward = 0
            connections[client].forwardsChunked = false
            connections[client].closeAfterOutput = true
            respondWithError(client, status, &context, headOnly: connections[client].proxiedHEAD)
            recordAccess(client, now: context.now, requestLine: proxiedRequestLine(client), proxied: true)
            deferServe(client)
        } else {
            closeConnection(client, &context, reset: true)
        }
    }

    /// The request line stashed for the access log by `startProxy`.
    private func proxiedRequestLine(_ client: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: memory.head(client)[0..<connections[client].proxiedRequestLine])
    }
}
