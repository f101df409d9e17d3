/// TCP input on the engine: a segment is parsed and checked, then handed to its
/// connection (`TCPConnection.process`); a segment without one meets the
/// listeners, SYN cookies (RFC 4987) or a reset (RFC 9293 §3.10.7.1).
extension Engine {
    @inline(__always)
    mutating func receiveTCP(_ buffer: PacketBuffer, _ ip: IPv4Packet, now: Instant) {
        receiveTCP(buffer, ip.payload, local: IPAddress(ip.destination), remote: IPAddress(ip.source), now: now)
    }

    /// A segment of either family: `bytes` from its header on, between `remote` and `local`.
    mutating func receiveTCP(_ buffer: PacketBuffer, _ bytes: UnsafeMutableRawBufferPointer, local: IPAddress,
                             remote: IPAddress, now: Instant) {
        tcp.statistics.segmentsReceived &+= 1
        guard let wire = try? TCPSegment(checking: bytes) else {
            tcp.statistics.malformed &+= 1
            return drop(buffer, .tcpMalformed)
        }
        guard buffer.offload.contains(.l4ChecksumGood) || wire.verifyChecksum(source: remote, destination: local) else {
            tcp.statistics.badChecksum &+= 1
            return drop(buffer, .tcpBadChecksum)
        }
        guard let options = try? TCPOptions(parsing: wire.options) else {
            tcp.statistics.malformed &+= 1
            return drop(buffer, .tcpMalformed)
        }
        let segment = IncomingSegment(sequence: SequenceNumber(wire.sequenceNumber),
                                      acknowledgment: SequenceNumber(wire.acknowledgmentNumber),
                                      flags: wire.flags, window: Int(wire.window), options: options,
                                      payload: wire.payload)
        let tuple = FourTuple(localAddress: local, localPort: wire.destinationPort,
                              remoteAddress: remote, remotePort: wire.sourcePort)
        if let index = tcp.lookupFlow(tuple) {
            process(segment, connection: tcp.connections.block(at: index), now: now)
        } else if exception != nil, kernelOwnsSegment(toPort: tuple.localPort) {
            return passToKernel(buffer, otherwise: nil)
        } else {
            receiveWithoutConnection(segment, tuple: tuple, now: now)
        }
        // Payload bytes were copied into the receive buffer: the frame is done.
        device.release(buffer)
    }

    /// Runs the connection's state machine on a segment, then does what it asked.
    @inline(__always)
    private mutating func process(_ segment: IncomingSegment, connection: UnsafeMutablePointer<TCPConnection>,
                                  now: Instant) {
        if !segment.payload.isEmpty && !connection.pointee.receive.chunk.isAttached {
            // Reserved at the open: there is one to take.
            connection.pointee.receive.chunk.attach(tcp.receiveChunks.take().unsafelyUnwrapped)
        }
        connection.pointee.process(segment, now: now, &self)
        settle(connection)
    }

    // MARK: - No connection: LISTEN, SYN cookies, resets

    private mutating func receiveWithoutConnection(_ segment: IncomingSegment, tuple: FourTuple, now: Instant) {
        let flags = segment.flags
        guard !flags.contains(.rst) else { return }
        guard let listener = tcp.listeners.find(port: tuple.localPort) else {
            return sendReset(replyingTo: segment, tuple: tuple, now: now)
        }
        if flags.contains(.syn) && !flags.contains(.ack) {
            return passiveOpen(segment, tuple: tuple, listener: listener, now: now)
        }
        if flags.contains(.ack) && !flags.contains(.syn) && cookiesRecentlySent(by: listener, now: now) {
            tcp.statistics.synCookiesChecked &+= 1
            if let mss = SYNCookie.validate(segment.acknowledgment - 1, tcp.secret, tuple,
                                            peerSequence: segment.sequence - 1, now: now) {
                tcp.statistics.synCookiesAccepted &+= 1
                return openFromCookie(segment, tuple: tuple, listener: listener, mss: mss, now: now)
            }
            tcp.statistics.synCookiesRejected &+= 1
        }
        sendReset(replyingTo: segment, tuple: tuple, now: now)
    }

    /// Whether a stray ACK to `listener` may be a returned cookie: only within
    /// `SYNCookie.checkWindow` of its last overflow, so a blind attacker cannot
    /// guess cookies against a listener that has not been sending them.
    @inline(__always)
    private func cookiesRecentlySent(by listener: Int, now: Instant) -> Bool {
        guard let overflow = tcp.listeners[listener].lastOverflow else { return false }
        return now.since(overflow) <= SYNCookie.checkWindow
    }

    /// A SYN for a listening port: a new connection in SYN-RECEIVED, or a SYN
    /// cookie when the listener's SYN queue is full.
    ///
    /// A full accept queue drops the SYN, as Linux does: the peer sends it again
    /// after its timeout, by when the application may have taken some. A
    /// handshake completed now would wait with no timer of ours to end it —
    /// a cookie's forever, for a peer that waits for the server to speak first.
    private mutating func passiveOpen(_ segment: IncomingSegment, tuple: FourTuple, listener: Int, now: Instant) {
        guard tcp.listeners.hasAcceptRoom(listener) else {
            tcp.statistics.acceptQueueOverflows &+= 1
            return
        }
        let peerMSS = Int(segment.options.maximumSegmentSize ?? UInt16(tuple.defaultPeerMSS))
        guard tcp.listeners[listener].halfOpen < tcp.listeners[listener].backlog else {
            if lineRefusesStatelessReply(now: now) { return }
            let cookie = SYNCookie.make(tcp.secret, tuple, peerSequence: segment.sequence, peerMSS: peerMSS, now: now)
            tcp.listeners[listener].lastOverflow = now
            var synAck = OutgoingSegment(tuple: tuple, sequence: cookie, acknowledgment: segment.sequence + 1,
                                         flags: [.syn, .ack],
                                         window: UInt16(min(tcp.configuration.receiveBufferSize, 0xFFFF)))
            synAck.options.maximumSegmentSize = UInt16(tuple.maximumSegmentSize(tcp.configuration))
            if emit(synAck, now: now) { tcp.statistics.synCookiesSent &+= 1 }
            return
        }
        guard let connection = openConnection(tuple: tuple, now: now) else {
            tcp.statistics.refusedNoResources &+= 1
            return sendReset(replyingTo: segment, tuple: tuple, now: now)
        }
        tcp.statistics.passiveOpens &+= 1
        if !tuple.isIPv4 { tcp.statistics.passiveOpensIPv6 &+= 1 }
        tcp.listeners[listener].halfOpen += 1
        timeHandshakeFromPeerRTT(connection, now: now)
        connection.pointee.acceptSYN(segment, listener: Int32(listener), configuration: tcp.configuration, now: now)
        settle(connection)
    }

    /// The final ACK of a handshake answered with a SYN cookie: the connection is
    /// built now, directly in ESTABLISHED, then the ACK is processed as usual.
    /// A full accept queue (it filled after the SYN was answered, see
    /// `passiveOpen`) drops the ACK with nothing built, as Linux does: only the
    /// peer's resend of that first segment carries a cookie that validates again.
    private mutating func openFromCookie(_ segment: IncomingSegment, tuple: FourTuple, listener: Int, mss: Int,
                                         now: Instant) {
        guard tcp.listeners.hasAcceptRoom(listener) else {
            tcp.statistics.acceptQueueOverflows &+= 1
            return
        }
        guard let connection = openConnection(tuple: tuple, initialSequence: segment.acknowledgment - 1, now: now)
        else {
            tcp.statistics.refusedNoResources &+= 1
            return sendReset(replyingTo: segment, tuple: tuple, now: now)
        }
        tcp.statistics.passiveOpens &+= 1
        if !tuple.isIPv4 { tcp.statistics.passiveOpensIPv6 &+= 1 }
        connection.pointee.establishFromCookie(segment, listener: Int32(listener), peerMSS: mss,
                                               configuration: tcp.configuration)
        tcp.statistics.established &+= 1
        _ = tcp.listeners.pushAcceptable(listener, connection.pointee.id)  // room checked above
        process(segment, connection: connection, now: now)
    }

    /// Takes a connection from its pool, reserves its buffers' chunks (taken
    /// when they hold bytes: `ownedForWriting` and `process`) and enters the
    /// tuple in the flow table. Nil (nothing taken) when a pool is exhausted.
    mutating func openConnection(tuple: FourTuple, initialSequence: SequenceNumber? = nil,
                                 now: Instant) -> UnsafeMutablePointer<TCPConnection>? {
        guard tcp.sendChunks.canReserve, tcp.receiveChunks.canReserve,
              let (id, connection) = tcp.connections.allocate() else { return nil }
        guard tcp.insertFlow(tuple, id.index) else {
            tcp.connections.release(id.index)
            return nil
        }
        tcp.sendChunks.reserve()
        tcp.receiveChunks.reserve()
        let offsets = tcp.keyedOffsets(for: tuple)
        connection.pointee.open(tuple: tuple,
                                initialSequence: initialSequence
                                    ?? TCPLayer.initialSequenceNumber(offset: offsets.sequence, now: now),
                                timestampOffset: offsets.timestamp, configuration: tcp.configuration, now: now)
        return connection
    }

    /// A reset for a segment that has no connection.
    private mutating func sendReset(replyingTo segment: IncomingSegment, tuple: FourTuple, now: Instant) {
        if lineRefusesStatelessReply(now: now) { return }
        if emit(.reset(replyingTo: segment, tuple: tuple), now: now) { tcp.statistics.resetsSent &+= 1 }
    }
}
