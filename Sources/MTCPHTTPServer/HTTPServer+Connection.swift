import Glibc
import MTCP
import MTCPHTTP

/// Serving one connection: write what is pending, answer the requests that are
/// complete in its buffer, read more, until it would block.
extension HTTPServer {
    /// Serves connection `index` until it would block (edge-triggered events
    /// bring it back when bytes arrive or room opens), or closes it.
    mutating func serve(_ index: Int, _ context: inout SocketContext<Device>) {
        if connections[index].isBeingServed { reenteredServes &+= 1 }
        let outer = !connections[index].isBeingServed
        connections[index].isBeingServed = true
        defer { if outer { connections[index].isBeingServed = false } }
        if connections[index].isUpstream { return serveUpstream(index, &context) }
        if connections[index].lingerSince != nil { return linger(index, &context) }
        guard flushTLS(index, &context) else { return }  // wait for room
        while connections[index].isOpen {
            if !connections[index].output.isEmpty {
                guard writeOutput(index, &context) else { return }  // wait for room
                if connections[index].proxy == .none { finishResponse(index) }
            }
            if connections[index].proxy != .none {
                guard pumpProxy(index, &context) else { return }
                continue
            }
            if connections[index].closeAfterOutput {
                // Not a close yet: with bytes of the client still unread (the rest of
                // a refused body, pipelined requests, a head beyond the buffer) the
                // stack would answer a close with a reset that drops the response not
                // yet sent (a 431 for a head larger than the buffer never reached the
                // client). Half-close, then read and drop until the client closes.
                let shutDown: Bool
                do {
                    shutDown = try shutdownOutput(index, &context)
                } catch {
                    return closeConnection(index, &context, reset: true)
                }
                guard shutDown else { return }  // the close_notify waits for room
                connections[index].lingerSince = context.now
                return linger(index, &context)
            }
            if connections[index].buffered > 0, answerBufferedRequest(index, &context) { continue }
            guard readMore(index, &context) else { return }
        }
    }

    /// Reads and drops what a closing connection's client still sends; closes at
    /// its end of stream (the sweep closes it after `lingerTimeout` otherwise).
    private mutating func linger(_ index: Int, _ context: inout SocketContext<Device>) {
        while true {
            do {
                guard try context.read(connections[index].socket, into: fileBuffer) > 0 else {
                    return closeConnection(index, &context, reset: false)
                }
            } catch .wouldBlock {
                return
            } catch {
                return closeConnection(index, &context, reset: true)
            }
        }
    }

    /// Parses the buffered bytes; when a request head is complete, answers it
    /// and consumes it. Returns whether a response was produced.
    private mutating func answerBufferedRequest(_ index: Int,
                                                _ context: inout SocketContext<Device>) -> Bool {
        let request = UnsafeRawBufferPointer(rebasing: memory.request(index)[0..<connections[index].buffered])
        let now = context.now
        do {
            guard try connections[index].parser.parse(request) else { return false }
        } catch {
            statistics.malformedRequests &+= 1
            eventLog.malformedRequest(error, connection: index, client: connections[index].client, second: clock.second)
            connections[index].exchangeStarted = connections[index].requestStarted ?? now
            respondWithError(index, error.status, &context)
            recordAccess(index, now: now, requestLine: .init(start: nil, count: 0))
            return true
        }
        // A copy: `consume` below resets the parser before the body is looked at.
        let head = connections[index].parser.head
        // A request back from its pool's queue was counted when it came.
        if connections[index].queueExit == .none { statistics.requests &+= 1 }
        connections[index].exchangeStarted = connections[index].requestStarted ?? now
        connections[index].hasAnswered = true
        respond(index, to: head, in: request, &context)
        connections[index].queueExit = .none
        if connections[index].proxy == .queued {
            // Its head stays where it is, parsed again when it leaves the queue.
            connections[index].parser.reset()
            return true
        }
        if connections[index].proxy == .none {
            recordAccess(index, now: now, requestLine: head.requestLine.bytes(in: request),
                         referer: head.referer?.bytes(in: request), userAgent: head.userAgent?.bytes(in: request))
        }
        consume(index, head.headLength)
        // A proxied request's body goes upstream; otherwise it is not needed.
        if connections[index].closeAfterOutput || connections[index].proxy != .none { return true }
        switch head.body {
        case .none:
            break
        case .contentLength(let length):
            // The static server ignores request bodies but must stay in step with
            // the framing before the next pipelined request.
            connections[index].bodyToSkip = length
            consume(index, 0)
        case .chunked:
            connections[index].closeAfterOutput = true
        }
        return true
    }

    /// Removes `count` bytes from the front of the request buffer, then as many
    /// body bytes as are due to be skipped; readies the parser for the next request.
    mutating func consume(_ index: Int, _ count: Int) {
        let skip = min(connections[index].bodyToSkip, connections[index].buffered - count)
        connections[index].bodyToSkip -= skip
        dropFront(index, count + skip)
        if count > 0 { connections[index].parser.reset() }
        if count > 0 || skip > 0 {
            // What is left is the start of the next request; nothing left means the
            // connection is between requests. Also after skipping a body: a body that
            // came in the same segment as its head used to count as the next
            // request's first bytes, and the idle connection got a 408 after
            // headerTimeout (HTTPServerTimingTests.skippedBodyLeavesTheConnectionIdle).
            connections[index].requestStarted = connections[index].buffered > 0 ? connections[index].lastActivity : nil
        }
    }

    /// Removes `count` bytes from the front of the request buffer.
    mutating func dropFront(_ index: Int, _ count: Int) {
        let remaining = connections[index].buffered - count
        if remaining > 0 && count > 0 {
            let buffer = memory.request(index)
            memmove(buffer.baseAddress!, buffer.baseAddress! + count, remaining)
        }
        connections[index].buffered = remaining
    }

    /// Reads what has arrived into the request buffer. Returns false when the
    /// connection would block or was closed.
    private mutating func readMore(_ index: Int, _ context: inout SocketContext<Device>) -> Bool {
        let buffer = memory.request(index)
        let buffered = connections[index].buffered
        guard buffered < buffer.count else {
            // The parser's limits refuse a head before it can fill the buffer.
            respondWithError(index, .requestHeaderFieldsTooLarge, &context)
            return true
        }
        let count: Int
        do {
            count = try receive(index, into: UnsafeMutableRawBufferPointer(rebasing: buffer[buffered...]), &context)
        } catch .wouldBlock {
            return false
        } catch {
            closeConnection(index, &context, reset: true)
            return false
        }
        guard count > 0 else {
            // End of stream: a half-received request is dropped, as nothing can answer it.
            closeConnection(index, &context, reset: false)
            return false
        }
        connections[index].lastActivity = context.now
        connections[index].buffered += count
        connections[index].usesRequestBuffer(upTo: connections[index].buffered)
        if connections[index].bodyToSkip > 0 { consume(index, 0) }
        if connections[index].buffered > 0 && connections[index].requestStarted == nil {
            connections[index].requestStarted = context.now
        }
        return true
    }

    /// Writes as much of the pending response as the send buffer takes.
    /// Returns whether all of it is written.
    mutating func writeOutput(_ index: Int, _ context: inout SocketContext<Device>) -> Bool {
        var output = connections[index].output
        // A connection closed on the way keeps what its close left (the file closed).
        defer { if connections[index].isOpen { connections[index].output = output } }
        if !output.head.isEmpty || !output.body.isEmpty {
            let written: Int
            do {
                written = try sendHeadAndBody(index, output, &context)
            } catch .wouldBlock {
                return false
            } catch {
                connectionFailed(index, &context)
                return false
            }
            connections[index].lastActivity = context.now
            let fromHead = min(written, output.head.count)
            output.head = UnsafeRawBufferPointer(rebasing: output.head[fromHead...])
            output.body = UnsafeRawBufferPointer(rebasing: output.body[(written - fromHead)...])
            guard output.head.isEmpty && output.body.isEmpty else { return false }
        }
        while output.fileRemaining > 0 {
            let written: Int
            do {
                written = try sendFromFile(index, output.file, at: output.fileOffset, upTo: output.fileRemaining,
                                           &context)
            } catch .wouldBlock {
                return false
            } catch {
                connectionFailed(index, &context)
                return false
            }
            guard written > 0 else {
                // The file shrank or failed under us: the promised length cannot be kept.
                // (What was read but did not fit is read again next time.)
                statistics.fileErrors &+= 1
                connectionFailed(index, &context)
                return false
            }
            connections[index].lastActivity = context.now
            output.fileOffset += written
            output.fileRemaining -= written
        }
        if output.file >= 0 {
            close(output.file)
            output.file = -1
        }
        return true
    }

    /// Bodies from the cache at least this long go by reference; shorter ones
    /// are copied with their head, in one write (tracking a reference costs
    /// more than copying a few hundred bytes; a judgment, not a measured edge).
    static var referencedBodyMinimum: Int { 1024 }

    /// Sends what it can of `output`'s head and body; returns how much. The
    /// head is copied (the cache rewrites its Date every second: never the
    /// same bytes twice); over plain TCP a body from the cache goes by
    /// reference: the stack sends it from the cache's memory, which a reload
    /// leaves for one generation (see `reload`), and never copies it into the
    /// connection's send buffer. A head and body that are one buffer in memory
    /// and too short for that are copied in one write.
    private mutating func sendHeadAndBody(_ index: Int, _ output: PendingOutput,
                                          _ context: inout SocketContext<Device>) throws(SocketError) -> Int {
        guard output.bodyFromCache, output.body.count >= Self.referencedBodyMinimum, connections[index].tls == nil else {
            if let whole = output.headAndBodyJoined { return try send(index, whole, &context) }
            // A gather write from the stack: no array on the heap per response.
            return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: 2) {
                pieces throws(SocketError) in
                pieces[0] = output.head
                pieces[1] = output.body
                return try send(index, UnsafeBufferPointer(pieces), &context)
            }
        }
        let socket = connections[index].socket
        let fromHead = output.head.isEmpty ? 0 : try context.write(socket, output.head)
        guard fromHead == output.head.count else { return fromHead }
        do {
            let tag = UInt32(truncatingIfNeeded: connections[index].outputGeneration)
            return fromHead + (try context.writeReference(socket, output.body, tag: tag))
        } catch .wouldBlock where fromHead > 0 {
            return fromHead
        }
    }

    /// Reads up to `limit` bytes of `file` from `offset` and sends them;
    /// returns how many were sent, 0 when the file gave nothing (it shrank or
    /// failed). Over plain TCP the file is read with `preadv` straight into
    /// the send buffer's free room (as much as it holds in one read, from the
    /// page cache as a rule), so its bytes are copied once on their way to the
    /// segments; over TLS through `fileBuffer`, as they are encrypted on their way in.
    private mutating func sendFromFile(_ index: Int, _ file: Int32, at offset: Int, upTo limit: Int,
                                       _ context: inout SocketContext<Device>) throws(SocketError) -> Int {
        guard connections[index].tls != nil else {
            return try context.write(connections[index].socket, upTo: limit) { first, second in
                withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { runs in
                    runs[0] = iovec(iov_base: first.baseAddress, iov_len: first.count)
                    runs[1] = iovec(iov_base: second.baseAddress, iov_len: second.count)
                    return max(0, preadv(file, runs.baseAddress, 2, off_t(offset)))
                }
            }
        }
        let room = min(sendRoom(index, context), fileBuffer.count, limit)
        guard room > 0 else { throw .wouldBlock }
        let count = pread(file, fileBuffer.baseAddress, room, off_t(offset))
        guard count > 0 else { return 0 }
        return try send(index, UnsafeRawBufferPointer(rebasing: fileBuffer[0..<count]), &context)
    }

    /// A write failed (the peer reset, or the file went away): the connection
    /// ends; an upstream's client is told (502) or reset.
    mutating func connectionFailed(_ index: Int, _ context: inout SocketContext<Device>) {
        if connections[index].isUpstream {
            upstreamFailed(index, .badGateway, &context)
        } else {
            closeConnection(index, &context, reset: true)
        }
    }

    /// A response is written: count it (a health answer apart from the classes).
    mutating func finishResponse(_ index: Int) {
        if connections[index].isHealthAnswer {
            connections[index].isHealthAnswer = false
            statistics.count(healthAnswer: connections[index].status.rawValue)
        } else {
            statistics.count(response: connections[index].status.rawValue)
        }
    }
}
