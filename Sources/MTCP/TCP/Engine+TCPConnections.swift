/// The application's side of TCP: listen, accept, connect, read, write, close,
/// and the batch of events of each iteration. Plain function calls on the
/// engine of the current core — no system calls, no locks.
extension Engine {
    /// Listens on `port` of the stack's address; up to `backlog` connections may
    /// wait in SYN-RECEIVED (beyond that, SYN cookies answer) and as many for accept.
    public mutating func listen(port: UInt16, backlog: Int = 4096) throws(SocketError) -> ListenerID {
        guard port != 0 else { throw .invalidArgument }
        return ListenerID(index: try tcp.listeners.add(port: port, backlog: backlog))
    }

    /// Stops listening; connections not yet accepted are reset.
    public mutating func closeListener(_ listener: ListenerID, now: Instant) {
        guard tcp.listeners.isActive(listener.index) else { return }
        // Connections still in SYN-RECEIVED name the listener's slot, which a
        // later `listen` may reuse: their final ACK would then queue them for
        // the new listener (another port) and unbalance its half-open count.
        // Reset them now (a scan of the pool, only when there are any: closing
        // a listener is rare).
        if tcp.listeners[listener.index].halfOpen > 0 {
            for index in 0..<Int32(tcp.connections.capacity) {
                let block = tcp.connections.block(at: index)
                guard block.pointee.inUse, block.pointee.state == .synReceived,
                      block.pointee.listener == Int32(listener.index) else { continue }
                abort(ConnectionID(index: index, generation: block.pointee.generation), block, sendReset: true,
                      error: nil, now: now)
            }
        }
        var waiting: [ConnectionID] = []
        tcp.listeners.remove(listener.index, &waiting)
        for id in waiting {
            if let block = tcp.connections.block(id) { abort(id, block, sendReset: true, error: nil, now: now) }
        }
    }

    /// The next established connection of `listener`, nil when none is waiting.
    /// The application owns it from now on and must `close` it eventually.
    public mutating func accept(_ listener: ListenerID) -> ConnectionID? {
        guard tcp.listeners.isActive(listener.index) else { return nil }
        while let id = tcp.listeners.popAcceptable(listener.index) {
            // Skip connections that were reset while they waited.
            guard let block = tcp.connections.block(id) else { continue }
            block.pointee.listener = -1
            block.pointee.ownedByApplication = true
            let events = block.pointee.pendingEvents.union(.writable)
            block.pointee.pendingEvents = []
            postEvents(id, block, events)
            return id
        }
        return nil
    }

    /// Opens a connection to `address:port` from an ephemeral local port. The
    /// `.connected` event (or `.error`) tells how it went.
    public mutating func connect(to address: IPv4Address, port: UInt16, localPort: UInt16? = nil,
                                 now: Instant) throws(SocketError) -> ConnectionID {
        guard port != 0, !address.isUnspecified, !address.isBroadcast, !address.isMulticast else {
            throw .invalidArgument
        }
        let tuple = try chooseLocalPort(remote: address, port: port, requested: localPort)
        guard let (id, block) = openConnection(tuple: tuple, now: now) else {
            tcp.statistics.refusedNoResources &+= 1
            throw .noResources
        }
        tcp.statistics.activeOpens &+= 1
        block.pointee.state = .synSent
        block.pointee.ownedByApplication = true
        queueControl(id, block, .syn)
        armRetransmission(id.index, block, now: now)
        return id
    }

    /// A free 4-tuple: the requested local port, or the next ephemeral port
    /// (49152-65535, RFC 6335) that no connection to the same peer uses.
    private mutating func chooseLocalPort(remote: IPv4Address, port: UInt16,
                                          requested: UInt16?) throws(SocketError) -> FourTuple {
        var tuple = FourTuple(localAddress: address.address, localPort: requested ?? 0, remoteAddress: remote,
                              remotePort: port)
        if requested != nil {
            guard tcp.flows.lookup(tuple) == nil else { throw .addressInUse }
            return tuple
        }
        for _ in 0..<16384 {
            let candidate = tcp.nextEphemeralPort
            tcp.nextEphemeralPort = candidate == 65535 ? 49152 : candidate + 1
            tuple.localPort = candidate
            if tcp.flows.lookup(tuple) == nil && tcp.listeners.find(port: candidate) == nil { return tuple }
        }
        throw .addressInUse
    }

    /// Copies received bytes into `buffer`. Returns 0 at end of stream (the peer
    /// closed and everything was read); throws `.wouldBlock` when nothing is there yet.
    public mutating func read(_ id: ConnectionID, into buffer: UnsafeMutableRawBufferPointer,
                              now: Instant) throws(SocketError) -> Int {
        guard let block = tcp.connections.block(id), block.pointee.ownedByApplication else { throw .invalidHandle }
        let count = block.pointee.receive.read(into: buffer)
        if count > 0 {
            openWindowAfterRead(id, block)
            return count
        }
        if block.pointee.finReceived { return 0 }
        if let error = block.pointee.error { throw error }
        if block.pointee.state == .closed { return 0 }
        throw .wouldBlock
    }

    /// After a read frees buffer space: tell the peer if the window grew enough
    /// to matter (RFC 9293 §3.8.6.2.2), instead of waiting for its next segment.
    private mutating func openWindowAfterRead(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>) {
        guard block.pointee.state.acceptsData else { return }
        let candidate = block.pointee.receiveNext + block.pointee.receive.window
        let step = min(block.pointee.receive.capacity / 2, block.pointee.sendMSS)
        if candidate - block.pointee.advertisedWindowEdge >= step { queueAck(id, block) }
    }

    /// Copies as much of `bytes` into the send buffer as fits and returns how
    /// much; throws `.wouldBlock` when the buffer is full.
    public mutating func write(_ id: ConnectionID, _ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int {
        guard let block = tcp.connections.block(id), block.pointee.ownedByApplication else { throw .invalidHandle }
        if let error = block.pointee.error { throw error }
        switch block.pointee.state {
        case .established, .closeWait, .synSent, .synReceived:
            break
        default:
            throw block.pointee.finQueued ? .closedForWriting : .notConnected
        }
        guard !block.pointee.finQueued else { throw .closedForWriting }
        let written = block.pointee.send.append(bytes)
        guard written > 0 || bytes.isEmpty else { throw .wouldBlock }
        if block.pointee.state.isSynchronized { queueData(id, block) }
        return written
    }

    /// Drops the bytes waiting to be read as if the application had read them,
    /// and opens the window (a socket whose read direction is shut down, so
    /// that its peer is not stalled by a reader that never reads).
    public mutating func discardReceived(_ id: ConnectionID) {
        guard let block = tcp.connections.block(id), block.pointee.ownedByApplication,
              block.pointee.receive.readable > 0 else { return }
        block.pointee.receive.consume(block.pointee.receive.readable)
        openWindowAfterRead(id, block)
    }

    /// Room left in the send buffer.
    public func writableBytes(_ id: ConnectionID) -> Int {
        tcp.connections.block(id)?.pointee.send.free ?? 0
    }

    /// Bytes ready to read.
    public func readableBytes(_ id: ConnectionID) -> Int {
        tcp.connections.block(id)?.pointee.receive.readable ?? 0
    }

    /// Closes our direction: a FIN follows the data already written (half-close).
    public mutating func shutdownWrite(_ id: ConnectionID) throws(SocketError) {
        guard let block = tcp.connections.block(id), block.pointee.ownedByApplication else { throw .invalidHandle }
        queueFIN(id, block)
    }

    private mutating func queueFIN(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>) {
        guard !block.pointee.finQueued else { return }
        switch block.pointee.state {
        case .established, .synReceived:
            block.pointee.state = .finWait1
        case .closeWait:
            block.pointee.state = .lastAck
        case .synSent:
            // Remembered: the FIN follows the data once the handshake completes.
            block.pointee.finQueued = true
            return
        default:
            return
        }
        block.pointee.finQueued = true
        queueData(id, block)
    }

    /// Gives the handle back. Data already written is still delivered, then the
    /// connection closes (FIN); unread received data makes it a reset instead
    /// (RFC 2525 §2.17), as on Linux. The handle is invalid afterwards.
    public mutating func close(_ id: ConnectionID, now: Instant) {
        guard let block = tcp.connections.block(id), block.pointee.ownedByApplication else { return }
        block.pointee.ownedByApplication = false
        block.pointee.pendingEvents = []
        switch block.pointee.state {
        case .closed:
            release(id.index, block)
        case .synSent:
            abort(id, block, sendReset: false, error: nil, now: now)
        default:
            if block.pointee.receive.readable > 0 {
                abort(id, block, sendReset: true, error: nil, now: now)
            } else {
                queueFIN(id, block)
            }
        }
    }

    /// Resets the connection at once and gives the handle back (SO_LINGER 0).
    public mutating func abort(_ id: ConnectionID, now: Instant) {
        guard let block = tcp.connections.block(id), block.pointee.ownedByApplication else { return }
        block.pointee.ownedByApplication = false
        if block.pointee.state == .closed { return release(id.index, block) }
        abort(id, block, sendReset: block.pointee.state != .synSent, error: nil, now: now)
    }

    /// The next connection with events since the last call, nil when the batch
    /// is done. Events are cleared as they are returned.
    public mutating func nextEvent() -> (ConnectionID, ConnectionEvents)? {
        while let id = tcp.pop(from: .events) {
            guard let block = tcp.connections.block(id), block.pointee.inEventList else { continue }
            block.pointee.inEventList = false
            let events = block.pointee.pendingEvents
            block.pointee.pendingEvents = []
            if !events.isEmpty { return (id, events) }
        }
        return nil
    }

    /// The state of a connection (for diagnostics and tests); nil for a stale handle.
    public func state(of id: ConnectionID) -> TCPState? { tcp.connections.block(id)?.pointee.state }

    /// Why a connection failed, after an `.error` event.
    public func error(of id: ConnectionID) -> SocketError? { tcp.connections.block(id)?.pointee.error }

    /// The addresses of a connection: (local address, local port, remote address, remote port).
    public func endpoints(of id: ConnectionID) -> FourTuple? { tcp.connections.block(id)?.pointee.tuple }

    public var tcpStatistics: TCPStatistics { tcp.statistics }

    /// Connections in use on this engine.
    public var connectionCount: Int { tcp.connections.inUse }

    /// The size of the connection pool (`max_concurrency`).
    public var connectionCapacity: Int { tcp.connections.capacity }
}
