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
                let connection = tcp.connections.block(at: index)
                guard connection.pointee.inUse, connection.pointee.state == .synReceived,
                      connection.pointee.listener == Int32(listener.index) else { continue }
                connection.pointee.abort(sendReset: true, error: nil, now: now, &self)
                settle(connection)
            }
        }
        var waiting: [ConnectionID] = []
        tcp.listeners.remove(listener.index, &waiting)
        for id in waiting {
            guard let connection = tcp.connections.block(id) else { continue }
            connection.pointee.abort(sendReset: true, error: nil, now: now, &self)
            settle(connection)
        }
    }

    /// The next established connection of `listener`, nil when none is waiting.
    /// The application owns it from now on and must `close` it eventually.
    public mutating func accept(_ listener: ListenerID) -> ConnectionID? {
        guard tcp.listeners.isActive(listener.index) else { return nil }
        while let id = tcp.listeners.popAcceptable(listener.index) {
            // Skip connections that were reset while they waited.
            guard let connection = tcp.connections.block(id) else { continue }
            connection.pointee.listener = -1
            connection.pointee.ownedByApplication = true
            let events = connection.pointee.pendingEvents.union(.writable)
            connection.pointee.pendingEvents = []
            connection.pointee.postEvents(events)
            settle(connection)
            return id
        }
        return nil
    }

    /// Opens a connection to `address:port` from an ephemeral local port. The
    /// `.connected` event (or `.error`) tells how it went.
    public mutating func connect(to address: IPv4Address, port: UInt16, localPort: UInt16? = nil,
                                 now: Instant) throws(SocketError) -> ConnectionID {
        try connect(to: IPAddress(address), port: port, localPort: localPort, now: now)
    }

    /// `connect` to an address of either family; an IPv6 peer is reached from
    /// the source address RFC 6724 would pick among ours (`ipv6SourceAddress`).
    public mutating func connect(to address: IPAddress, port: UInt16, localPort: UInt16? = nil,
                                 now: Instant) throws(SocketError) -> ConnectionID {
        let isGroup = address.isIPv4 ? address.v4.isBroadcast || address.v4.isMulticast : address.v6.isMulticast
        guard port != 0, !address.isUnspecified, !isGroup else { throw .invalidArgument }
        let local = try address.isIPv4 ? IPAddress(self.address.address) : IPAddress(ipv6SourceAddress(for: address.v6))
        let tuple = try chooseLocalPort(local: local, remote: address, port: port, requested: localPort)
        guard let connection = openConnection(tuple: tuple, now: now) else {
            tcp.statistics.refusedNoResources &+= 1
            throw .noResources
        }
        tcp.statistics.activeOpens &+= 1
        if !address.isIPv4 { tcp.statistics.activeOpensIPv6 &+= 1 }
        timeHandshakeFromPeerRTT(connection, now: now)
        connection.pointee.connect(now: now)
        settle(connection)
        return connection.pointee.id
    }

    /// A free 4-tuple whose replies reach this core: the requested local port, or
    /// an ephemeral port (49152-65535, RFC 6335) by RFC 6056's algorithm 3: a
    /// keyed hash of the destination plus a counter. Successive connections to
    /// one destination still take successive ports (few collisions, slow reuse of
    /// a tuple), but where that run starts is unpredictable to anyone without the
    /// secret, so an off-path attacker must guess the port as well as the
    /// sequence number to inject into the proxy's upstream connections or the
    /// loadgen's. Where the port hashes flows to queues, candidates another core
    /// would receive are skipped (`FlowOwnership.owns(localPort:...)`): a wrong-core flow could
    /// never complete, so running out is EADDRNOTAVAIL instead.
    private mutating func chooseLocalPort(local: IPAddress, remote: IPAddress, port: UInt16,
                                          requested: UInt16?) throws(SocketError) -> FourTuple {
        var tuple = FourTuple(localAddress: local, localPort: requested ?? 0, remoteAddress: remote, remotePort: port)
        if requested != nil {
            guard tcp.lookupFlow(tuple) == nil else { throw .addressInUse }
            guard ownership.owns(tuple) else { throw localPortsExhausted() }
            return tuple
        }
        let partialHash = ownership.hashLeavingOutLocalPort(tuple)
        let offset = tcp.ephemeralPortOffset(to: tuple)
        for _ in 0..<Self.ephemeralPortCount {
            let index = (offset &+ tcp.ephemeralPortCounter) % Self.ephemeralPortCount
            tcp.ephemeralPortCounter &+= 1
            let candidate = Self.firstEphemeralPort + UInt16(index)
            guard ownership.owns(localPort: candidate, hashLeavingOutLocalPort: partialHash, ipv4: tuple.isIPv4) else {
                continue
            }
            tuple.localPort = candidate
            if tcp.lookupFlow(tuple) == nil && tcp.listeners.find(port: candidate) == nil { return tuple }
        }
        throw localPortsExhausted()
    }

    private mutating func localPortsExhausted() -> SocketError {
        tcp.statistics.localPortsExhausted &+= 1
        return .addressNotAvailable
    }

    static var firstEphemeralPort: UInt16 { 49152 }
    static var ephemeralPortCount: UInt32 { 65536 - UInt32(firstEphemeralPort) }

    /// The connection behind a handle the application holds; nil for a stale,
    /// bogus or closed one.
    @inline(__always)
    private func owned(_ id: ConnectionID) -> UnsafeMutablePointer<TCPConnection>? {
        guard let connection = tcp.connections.block(id), connection.pointee.ownedByApplication else { return nil }
        return connection
    }

    /// `owned`, with a chunk under the send buffer for the `bytes` about to be
    /// written (reserved at the open; `settle` gives it back while the ring
    /// is empty).
    @inline(__always)
    private mutating func ownedForWriting(_ id: ConnectionID, bytes: Int) -> UnsafeMutablePointer<TCPConnection>? {
        guard let connection = owned(id) else { return nil }
        if bytes > 0 && !connection.pointee.send.chunk.isAttached {
            connection.pointee.send.chunk.attach(tcp.sendChunks.take().unsafelyUnwrapped)
        }
        return connection
    }

    /// Copies received bytes into `buffer`. Returns 0 at end of stream (the peer
    /// closed and everything was read); throws `.wouldBlock` when nothing is there yet.
    public mutating func read(_ id: ConnectionID, into buffer: UnsafeMutableRawBufferPointer,
                              now: Instant) throws(SocketError) -> Int {
        guard let connection = owned(id) else { throw .invalidHandle }
        defer { settle(connection) }
        return try connection.pointee.read(into: buffer)
    }

    /// Copies as much of `bytes` into the send buffer as fits and returns how
    /// much; throws `.wouldBlock` when the buffer is full.
    public mutating func write(_ id: ConnectionID, _ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int {
        guard let connection = ownedForWriting(id, bytes: bytes.count) else { throw .invalidHandle }
        defer { settle(connection) }
        return try connection.pointee.write(bytes, shortFlowThreshold: tcp.configuration.shortFlowThreshold)
    }

    /// Lets `produce` write up to `limit` bytes straight into the send buffer
    /// and returns how many it wrote (see `SendBuffer.append(upTo:producingWith:)`);
    /// throws `.wouldBlock` when the buffer is full.
    @inline(__always)
    public mutating func write(_ id: ConnectionID, upTo limit: Int,
                               producingWith produce: (UnsafeMutableRawBufferPointer,
                                                       UnsafeMutableRawBufferPointer) -> Int) throws(SocketError) -> Int {
        guard let connection = ownedForWriting(id, bytes: limit) else { throw .invalidHandle }
        defer { settle(connection) }
        return try connection.pointee.write(upTo: limit, shortFlowThreshold: tcp.configuration.shortFlowThreshold,
                                            producingWith: produce)
    }

    /// Takes as much of `region` into the send buffer by reference as fits
    /// and returns how much (see `SendBuffer.appendReference`); throws
    /// `.wouldBlock` when the buffer is full.
    public mutating func writeReference(_ id: ConnectionID, _ region: UnsafeRawBufferPointer,
                                        tag: UInt32) throws(SocketError) -> Int {
        guard let connection = ownedForWriting(id, bytes: region.count) else { throw .invalidHandle }
        defer { settle(connection) }
        return try connection.pointee.writeReference(region, tag: tag,
                                                     shortFlowThreshold: tcp.configuration.shortFlowThreshold)
    }

    /// Resets every connection, the application's or closed by it and still
    /// sending, whose send buffer references a region tagged below `tag`:
    /// the application is about to free those regions. Returns how many.
    public mutating func resetConnections(referencingTagsBelow tag: UInt32, now: Instant) -> Int {
        var reset = 0
        for slot in 0..<tcp.connections.capacity {
            let connection = tcp.connections.block(at: Int32(slot))
            // A closed one sends nothing more: what it still holds is never read.
            guard connection.pointee.inUse, connection.pointee.state != .closed,
                  connection.pointee.send.referencesTag(below: tag) else { continue }
            connection.pointee.abort(sendReset: connection.pointee.state != .synSent, error: .connectionReset,
                                     now: now, &self)
            settle(connection)
            reset += 1
        }
        return reset
    }

    /// Declares that the application will still write `bytes` on this connection
    /// (the rest of a response whose length it knows), so that size-aware data
    /// scheduling sees the whole flow, not only what is in the send buffer.
    /// Each write counts it down; a new declaration replaces the old. Any
    /// length is taken (a proxy may pass on its peer's Content-Length); more
    /// than 256 TiB counts as 256 TiB.
    public mutating func declareRemaining(_ id: ConnectionID, bytes: Int) {
        guard let connection = owned(id) else { return }
        connection.pointee.declaredBytesToCome = min(max(0, bytes), TCPConnection.maximumDeclaredBytes)
        connection.pointee.undeclaredBytesSent = 0
    }

    /// Drops the bytes waiting to be read as if the application had read them,
    /// and opens the window (a socket whose read direction is shut down, so
    /// that its peer is not stalled by a reader that never reads).
    public mutating func discardReceived(_ id: ConnectionID) {
        guard let connection = owned(id) else { return }
        connection.pointee.discardReceived()
        settle(connection)
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
        guard let connection = owned(id) else { throw .invalidHandle }
        connection.pointee.queueFIN(shortFlowThreshold: tcp.configuration.shortFlowThreshold)
        settle(connection)
    }

    /// Gives the handle back. Data already written is still delivered, then the
    /// connection closes (FIN); unread received data makes it a reset instead
    /// (RFC 2525 §2.17), as on Linux. The handle is invalid afterwards.
    public mutating func close(_ id: ConnectionID, now: Instant) {
        guard let connection = owned(id) else { return }
        connection.pointee.close(now: now, &self)
        settle(connection)
    }

    /// Resets the connection at once and gives the handle back (SO_LINGER 0).
    public mutating func abort(_ id: ConnectionID, now: Instant) {
        guard let connection = owned(id) else { return }
        connection.pointee.abortByApplication(now: now, &self)
        settle(connection)
    }

    /// The next connection with events since the last call, nil when the batch
    /// is done. Events are cleared as they are returned.
    public mutating func nextEvent() -> (ConnectionID, ConnectionEvents)? {
        while let id = tcp.pop(from: .events) {
            guard let connection = tcp.connections.block(id), connection.pointee.inEventList else { continue }
            connection.pointee.inEventList = false
            let events = connection.pointee.pendingEvents
            connection.pointee.pendingEvents = []
            if !events.isEmpty { return (id, events) }
        }
        return nil
    }

    /// What holds for a connection now (for readiness); nil for a stale handle.
    /// Inlined: called out of line from a mutating method, it had the whole
    /// engine (2 KiB) copied for its `self` first, twice a short transaction.
    @inline(__always)
    public func status(of id: ConnectionID) -> ConnectionStatus? { tcp.connections.block(id)?.pointee.status }

    /// Connections of `listener` waiting for `accept`.
    public func acceptQueueLength(_ listener: ListenerID) -> Int {
        tcp.listeners.isActive(listener.index) ? tcp.listeners[listener.index].acceptCount : 0
    }

    /// Whether a listener holds `port`.
    public func isListening(onPort port: UInt16) -> Bool { tcp.listeners.find(port: port) != nil }

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
