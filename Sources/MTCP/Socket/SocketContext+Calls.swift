/// The socket calls of `SocketContext`.
extension SocketContext {
    /// A new TCP socket (socket(AF_INET, SOCK_STREAM)); `.noResources` when
    /// the core's socket table is full (EMFILE's place).
    public mutating func socket() throws(SocketError) -> Socket {
        guard let socket = sockets.allocate(sendBufferSize: engine.tcpConfiguration.sendBufferSize) else {
            throw .noResources
        }
        return socket
    }

    /// Binds the socket to `port` of the stack's address; port 0 leaves the
    /// choice of an ephemeral port to `connect`.
    public mutating func bind(_ socket: Socket, port: UInt16) throws(SocketError) {
        let index = try entry(socket)
        guard sockets.entries[index].kind == .unconnected, sockets.entries[index].boundPort == 0 else {
            throw .invalidArgument
        }
        if port != 0, engine.isListening(onPort: port) { throw .addressInUse }
        sockets.entries[index].boundPort = port
    }

    /// Starts listening on the bound port. Up to `backlog` connections wait for
    /// `accept` (beyond that, SYN cookies answer new SYNs).
    public mutating func listen(_ socket: Socket, backlog: Int = 4096) throws(SocketError) {
        let index = try entry(socket)
        guard sockets.entries[index].kind == .unconnected, sockets.entries[index].boundPort != 0,
              backlog > 0 else { throw .invalidArgument }
        let listener = try engine.listen(port: sockets.entries[index].boundPort, backlog: backlog)
        sockets.entries[index].kind = .listener(listener)
        listeners.append(Int32(index))
    }

    /// The next established connection of a listening socket as a new socket;
    /// `.wouldBlock` when none is waiting, `.noResources` when the socket table
    /// is full (the connection stays queued for a later accept).
    public mutating func accept(_ socket: Socket) throws(SocketError) -> Socket {
        let index = try entry(socket)
        guard case .listener(let listener) = sockets.entries[index].kind else { throw .invalidArgument }
        guard engine.acceptQueueLength(listener) > 0 else { throw .wouldBlock }
        guard let accepted = sockets.allocate(sendBufferSize: sockets.entries[index].sendBufferSize) else {
            throw .noResources
        }
        guard let connection = engine.accept(listener) else {
            sockets.release(accepted.index)
            throw .wouldBlock
        }
        sockets.entries[index].acceptQueueSeen = engine.acceptQueueLength(listener)
        adopt(connection, into: accepted.index)
        return accepted
    }

    /// Opens a connection to `address:port`, from the bound port or an ephemeral
    /// one. Returns at once: `.output` on the event poll says it is established,
    /// `.error` that it failed (`pendingError` says why).
    public mutating func connect(_ socket: Socket, to address: IPv4Address, port: UInt16) throws(SocketError) {
        try connect(socket, to: IPAddress(address), port: port)
    }

    /// `connect` to an address of either family.
    public mutating func connect(_ socket: Socket, to address: IPAddress, port: UInt16) throws(SocketError) {
        let index = try entry(socket)
        switch sockets.entries[index].kind {
        case .unconnected: break
        case .connection: throw .alreadyConnected
        default: throw .invalidArgument
        }
        let boundPort = sockets.entries[index].boundPort
        let connection = try engine.connect(to: address, port: port, localPort: boundPort == 0 ? nil : boundPort,
                                            now: now)
        adopt(connection, into: Int32(index))
    }

    private mutating func adopt(_ connection: ConnectionID, into index: Int32) {
        sockets.entries[Int(index)].kind = .connection(connection)
        socketOfConnection[Int(connection.index)] = index
    }

    /// Copies received bytes into `buffer`: the count, 0 at end of stream,
    /// `.wouldBlock` when nothing has arrived, or the connection's error.
    public mutating func read(_ socket: Socket, into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        let index = try entry(socket)
        let connection = try connection(at: index)
        if sockets.entries[index].readShutDown { return 0 }
        return try engine.read(connection, into: buffer, now: now)
    }

    /// Copies as much of `bytes` into the send buffer as fits and returns how
    /// much; `.wouldBlock` when there is no room (wait for `.output`).
    /// Inlined into `writev`, whose loop it is.
    @inline(__always)
    public mutating func write(_ socket: Socket, _ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int {
        let (connection, room) = try writableConnection(socket, wanting: bytes.count)
        return try engine.write(connection, UnsafeRawBufferPointer(start: bytes.baseAddress, count: min(bytes.count, room)))
    }

    /// Lets `produce` write up to `limit` bytes straight into the send buffer,
    /// with no copy through the application (a file read with `preadv` into
    /// the two runs it is given, filled in order), and returns how many it
    /// wrote; `.wouldBlock` when there is no room, before it is called.
    @inline(__always)
    public mutating func write(_ socket: Socket, upTo limit: Int,
                               producingWith produce: (_ first: UnsafeMutableRawBufferPointer,
                                                       _ second: UnsafeMutableRawBufferPointer) -> Int)
        throws(SocketError) -> Int {
        let (connection, room) = try writableConnection(socket, wanting: limit)
        return try engine.write(connection, upTo: min(limit, room), producingWith: produce)
    }

    /// Takes as much of `region` into the send buffer as fits, by reference:
    /// its bytes are sent (and resent) from where they lie, with no copy. The
    /// region must stay unchanged and alive until the peer has acknowledged it
    /// or the connection is gone, whether or not the socket is closed before;
    /// memory the application will free is tagged below the `tag` it then
    /// gives `resetConnections(referencingTagsBelow:)`. Returns how much was
    /// taken; `.wouldBlock` when there is no room.
    public mutating func writeReference(_ socket: Socket, _ region: UnsafeRawBufferPointer,
                                        tag: UInt32) throws(SocketError) -> Int {
        let (connection, room) = try writableConnection(socket, wanting: region.count)
        return try engine.writeReference(connection, UnsafeRawBufferPointer(rebasing: region.prefix(room)), tag: tag)
    }

    /// Resets the connections, with or without a socket, that still send from
    /// regions tagged below `tag` (see `writeReference`); returns how many.
    public mutating func resetConnections(referencingTagsBelow tag: UInt32) -> Int {
        engine.resetConnections(referencingTagsBelow: tag, now: now)
    }

    /// The connection of `socket` and its room for a write of `count` bytes;
    /// `.wouldBlock` when there is none for a nonempty write, after the
    /// engine's error or closed-for-writing, which come before "full".
    @inline(__always)
    private mutating func writableConnection(_ socket: Socket,
                                             wanting count: Int) throws(SocketError) -> (ConnectionID, Int) {
        let index = try entry(socket)
        let connection = try connection(at: index)
        let room = sendRoom(index, connection)
        guard room > 0 || count <= 0 else {
            _ = try engine.write(connection, UnsafeRawBufferPointer(start: nil, count: 0))
            throw .wouldBlock
        }
        return (connection, room)
    }

    /// Says how many bytes the application will still write on `socket` (a
    /// response's length), for `data_scheduling` (`Engine.declareRemaining`).
    public mutating func declareRemaining(_ socket: Socket, bytes: Int) throws(SocketError) {
        engine.declareRemaining(try connection(at: try entry(socket)), bytes: bytes)
    }

    /// Writes the buffers in order (gather write) as far as they fit; returns the
    /// total, `.wouldBlock` when not a byte fit.
    public mutating func writev(_ socket: Socket,
                                _ buffers: UnsafeBufferPointer<UnsafeRawBufferPointer>) throws(SocketError) -> Int {
        // Nothing to gather (no buffers, or only empty ones): still check the
        // socket as an empty `write` does, so a stale, unconnected or failed
        // socket is an error here too rather than a silent 0.
        guard buffers.contains(where: { !$0.isEmpty }) else {
            return try write(socket, UnsafeRawBufferPointer(start: nil, count: 0))
        }
        var total = 0
        for buffer in buffers where !buffer.isEmpty {
            let written: Int
            do {
                written = try write(socket, buffer)
            } catch .wouldBlock where total > 0 {
                return total
            }
            total += written
            if written < buffer.count { break }
        }
        return total
    }

    /// Room for `write` now: the send buffer's free space within SO_SNDBUF.
    ///
    /// This and the other queries of a socket are inlined: called, a
    /// non-mutating method gets the context as a value, and its caller copied
    /// all 2.4 KB of it for every call (`write` did, through `sendRoom`;
    /// callgrind, mtcp-loadgen: 256 instructions a request).
    @inline(__always)
    public func writableBytes(_ socket: Socket) -> Int {
        guard let index = sockets.index(of: socket),
              case .connection(let connection) = sockets.entries[index].kind else { return 0 }
        return sendRoom(index, connection)
    }

    /// Bytes waiting to be read.
    @inline(__always)  // see `writableBytes`
    public func readableBytes(_ socket: Socket) -> Int {
        guard let index = sockets.index(of: socket),
              case .connection(let connection) = sockets.entries[index].kind else { return 0 }
        return engine.readableBytes(connection)
    }

    @inline(__always)  // see `writableBytes`
    func sendRoom(_ index: Int, _ connection: ConnectionID) -> Int {
        guard let status = engine.status(of: connection) else { return 0 }
        return sendRoom(index, status)
    }

    /// Room in the send buffer within the socket's own SO_SNDBUF, which may be
    /// smaller than the engine's buffer.
    @inline(__always)  // see `writableBytes`
    func sendRoom(_ index: Int, _ status: ConnectionStatus) -> Int {
        max(0, min(status.writableBytes, sockets.entries[index].sendBufferSize - status.bufferedBytes))
    }

    /// Closes one or both directions without giving up the socket.
    public mutating func shutdown(_ socket: Socket, _ direction: ShutdownDirection) throws(SocketError) {
        let index = try entry(socket)
        let connection = try connection(at: index)
        if direction != .write {
            // What is buffered, and what arrives from now on (see `poll`), is
            // dropped: kept, it would close the window and stall the peer for good.
            sockets.entries[index].readShutDown = true
            engine.discardReceived(connection)
        }
        if direction != .read { try engine.shutdownWrite(connection) }
        // The socket's conditions changed (IN after SHUT_RD, HUP once both
        // directions are closed): an edge for its poll, as on Linux.
        signal(Int32(index))
    }

    /// Gives the socket up. A listener stops listening (connections not yet
    /// accepted are reset); a connection closes gracefully after its unsent data,
    /// or is reset if received data was left unread (as Linux does). The socket
    /// leaves its event poll; the handle is invalid afterwards.
    public mutating func close(_ socket: Socket) throws(SocketError) {
        let index = try entry(socket)
        switch sockets.entries[index].kind {
        case .listener(let listener):
            engine.closeListener(listener, now: now)
            listeners.removeAll { $0 == Int32(index) }
        case .connection(let connection):
            socketOfConnection[Int(connection.index)] = -1
            engine.close(connection, now: now)
        default:
            break
        }
        release(index)
    }

    /// Resets the connection at once and gives the socket up (SO_LINGER with a
    /// zero timeout, then close): for peers that must not cost more time.
    public mutating func abort(_ socket: Socket) throws(SocketError) {
        let index = try entry(socket)
        guard case .connection(let connection) = sockets.entries[index].kind else { return try close(socket) }
        socketOfConnection[Int(connection.index)] = -1
        engine.abort(connection, now: now)
        release(index)
    }

    private mutating func release(_ index: Int) {
        polls.remove(Int32(index), in: sockets.entries)
        sockets.release(Int32(index))
    }

    /// getsockname: the stack's address and the socket's port.
    @inline(__always)  // see `writableBytes`
    public func localAddress(of socket: Socket) throws(SocketError) -> SocketAddress {
        let index = try entry(socket)
        if case .connection(let connection) = sockets.entries[index].kind, let tuple = engine.endpoints(of: connection) {
            return SocketAddress(address: tuple.localAddress, port: tuple.localPort)
        }
        return SocketAddress(address: engine.address.address, port: sockets.entries[index].boundPort)
    }

    /// getpeername: the remote end of a connection.
    @inline(__always)  // see `writableBytes`
    public func peerAddress(of socket: Socket) throws(SocketError) -> SocketAddress {
        let index = try entry(socket)
        guard case .connection(let connection) = sockets.entries[index].kind,
              let tuple = engine.endpoints(of: connection) else { throw .notConnected }
        return SocketAddress(address: tuple.remoteAddress, port: tuple.remotePort)
    }

    /// SO_ERROR: why the connection failed, nil while it is healthy.
    @inline(__always)  // see `writableBytes`
    public func pendingError(of socket: Socket) throws(SocketError) -> SocketError? {
        let index = try entry(socket)
        guard case .connection(let connection) = sockets.entries[index].kind else { return nil }
        return engine.error(of: connection)
    }

    /// The TCP state of a connected socket (diagnostics and tests).
    @inline(__always)  // see `writableBytes`
    public func state(of socket: Socket) -> TCPState? {
        guard let index = sockets.index(of: socket),
              case .connection(let connection) = sockets.entries[index].kind else { return nil }
        return engine.state(of: connection)
    }

    /// getsockopt, all options at once.
    public func options(of socket: Socket) throws(SocketError) -> SocketOptions {
        let index = try entry(socket)
        return SocketOptions(sendBufferSize: sockets.entries[index].sendBufferSize,
                             receiveBufferSize: engine.tcpConfiguration.receiveBufferSize)
    }

    /// setsockopt: `.invalidArgument` for values the stack cannot honour (see
    /// `SocketOptions`). A listener's send buffer size passes to its connections.
    public mutating func setOptions(_ socket: Socket, _ options: SocketOptions) throws(SocketError) {
        let index = try entry(socket)
        guard options.nonBlocking, options.noDelay,
              options.receiveBufferSize == engine.tcpConfiguration.receiveBufferSize,
              (1...engine.tcpConfiguration.sendBufferSize).contains(options.sendBufferSize) else {
            throw .invalidArgument
        }
        sockets.entries[index].sendBufferSize = options.sendBufferSize
    }

    /// The slot of a live socket handle.
    func entry(_ socket: Socket) throws(SocketError) -> Int {
        guard let index = sockets.index(of: socket) else { throw .invalidHandle }
        return index
    }

    private func connection(at index: Int) throws(SocketError) -> ConnectionID {
        switch sockets.entries[index].kind {
        case .connection(let connection): return connection
        case .listener: throw .invalidArgument
        default: throw .notConnected
        }
    }
}
