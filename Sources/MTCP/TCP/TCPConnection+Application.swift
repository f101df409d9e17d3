/// The application's calls on a connection it holds: read, write, half-close,
/// close and abort. Plain function calls, no system calls (the engine checks
/// the handle first).
extension TCPConnection {
    /// Copies received bytes into `buffer`. Returns 0 at end of stream (the peer
    /// closed and everything was read); throws `.wouldBlock` when nothing is there yet.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        let count = receive.read(into: buffer)
        if count > 0 {
            openWindowAfterRead()
            return count
        }
        if finReceived { return 0 }
        if let error { throw error }
        if state == .closed { return 0 }
        throw .wouldBlock
    }

    /// Drops the bytes waiting to be read as if the application had read them,
    /// and opens the window (a socket whose read direction is shut down, so
    /// that its peer is not stalled by a reader that never reads).
    mutating func discardReceived() {
        guard receive.readable > 0 else { return }
        receive.consume(receive.readable)
        openWindowAfterRead()
    }

    /// After a read frees buffer space: tell the peer at once when the window it
    /// knows is down to half the buffer or less and grew enough to matter (RFC
    /// 9293 §3.8.6.2.2; Linux waits for the same half). A peer far from the edge
    /// is not held back: our next segment carries the new window, and a bare
    /// update per few requests of a request-response connection (a proxy reads
    /// a request long before its response goes out) would be a packet for nothing.
    private mutating func openWindowAfterRead() {
        guard state.acceptsData else { return }
        let known = advertisedWindowEdge - receiveNext
        guard known <= receive.capacity / 2 else { return }
        if receiveNext + receive.window - advertisedWindowEdge >= windowUpdateStep { queueAck() }
    }

    /// Copies as much of `bytes` into the send buffer as fits and returns how
    /// much; throws `.wouldBlock` when the buffer is full.
    mutating func write(_ bytes: UnsafeRawBufferPointer, shortFlowThreshold: Int) throws(SocketError) -> Int {
        try write(bytes.count, shortFlowThreshold: shortFlowThreshold) { $0.append(bytes) }
    }

    /// Lets `produce` write up to `limit` bytes straight into the send buffer
    /// (see `SendBuffer.append(upTo:producingWith:)`) and returns how many it
    /// wrote; throws `.wouldBlock` when the buffer is full, before calling it.
    @inline(__always)
    mutating func write(upTo limit: Int, shortFlowThreshold: Int,
                        producingWith produce: (UnsafeMutableRawBufferPointer,
                                                UnsafeMutableRawBufferPointer) -> Int) throws(SocketError) -> Int {
        try write(limit, shortFlowThreshold: shortFlowThreshold) { $0.append(upTo: limit, producingWith: produce) }
    }

    /// Takes as much of `region` into the send buffer by reference as fits
    /// (see `SendBuffer.appendReference`) and returns how much; throws
    /// `.wouldBlock` when the buffer is full.
    mutating func writeReference(_ region: UnsafeRawBufferPointer, tag: UInt32,
                                 shortFlowThreshold: Int) throws(SocketError) -> Int {
        try write(region.count, shortFlowThreshold: shortFlowThreshold) { $0.appendReference(region, tag: tag) }
    }

    /// A write of up to `length` bytes that `append` adds to the send buffer:
    /// the connection's error or closed state first, then `.wouldBlock` when
    /// the buffer has no room, else what `append` took, queued to go.
    @inline(__always)
    private mutating func write(_ length: Int, shortFlowThreshold: Int,
                                by append: (inout SendBuffer) -> Int) throws(SocketError) -> Int {
        try checkWritable()
        // Everything written before was delivered: a new burst of the flow starts.
        if send.count == 0 { undeclaredBytesSent = 0 }
        guard send.free > 0 || length <= 0 else { throw .wouldBlock }
        let written = append(&send)
        declaredBytesToCome = max(0, declaredBytesToCome - written)
        if state.isSynchronized { queueData(shortFlowThreshold: shortFlowThreshold) }
        return written
    }

    /// The connection's error, or why it takes no more data, if it does not.
    @inline(__always)
    private func checkWritable() throws(SocketError) {
        if let error { throw error }
        switch state {
        case .established, .closeWait, .synSent, .synReceived:
            break
        default:
            throw finQueued ? .closedForWriting : .notConnected
        }
        guard !finQueued else { throw .closedForWriting }
    }

    /// The application gives its handle back. Data already written is still
    /// delivered, then the connection closes (FIN); unread received data makes it
    /// a reset instead (RFC 2525 §2.17), as on Linux.
    mutating func close<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        ownedByApplication = false
        pendingEvents = []
        switch state {
        case .closed:
            requests.insert(.handleReturned)
        case .synSent:
            abort(sendReset: false, error: nil, now: now, &environment)
        default:
            if receive.readable > 0 {
                abort(sendReset: true, error: nil, now: now, &environment)
            } else {
                queueFIN(shortFlowThreshold: environment.tcpConfiguration.shortFlowThreshold)
            }
        }
    }

    /// Resets the connection at once and gives the handle back (SO_LINGER 0).
    mutating func abortByApplication<Environment: TCPConnectionEnvironment & ~Copyable>(
        now: Instant, _ environment: inout Environment) {
        ownedByApplication = false
        guard state != .closed else {
            requests.insert(.handleReturned)
            return
        }
        abort(sendReset: state != .synSent, error: nil, now: now, &environment)
    }
}
