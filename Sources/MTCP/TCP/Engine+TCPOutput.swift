/// TCP output on the engine: mTCP's three lists flushed in priority order —
/// control (SYN, SYN-ACK), then pure ACKs, then data with short flows first —
/// and the one place a segment becomes a frame.
extension Engine {
    /// Builds this iteration's segments in priority order into the transmit queue.
    /// With a shaped line each list is served only while there is credit, so
    /// what the line cannot take waits on its list, control and ACKs ahead of data.
    mutating func flushTCP(now: Instant) {
        while shaper.hasCredit, let id = tcp.pop(from: .control) {
            guard let connection = tcp.connections.block(id), connection.pointee.inControlList else { continue }
            connection.pointee.inControlList = false
            let flags = connection.pointee.controlToSend
            connection.pointee.controlToSend = []
            let sent = connection.pointee.sendControl(flags, now: now, &self)
            if !sent {
                // No transmit room: it keeps its place, the rest wait behind it.
                connection.pointee.controlToSend = flags
                connection.pointee.inControlList = tcp.returnToFront(id, of: .control)
            }
            settle(connection)
            if !sent { break }
        }
        while shaper.hasCredit, let id = tcp.pop(from: .ack) {
            guard let connection = tcp.connections.block(id), connection.pointee.inAckList else { continue }
            connection.pointee.inAckList = false
            guard connection.pointee.ackPending else { continue }
            // A data segment about to go out carries the ACK anyway; whether it
            // goes in this flush (the line may hold it) is known after the data list.
            if connection.pointee.inDataList && connection.pointee.canSendData && tcp.acksAwaitingData.push(id) {
                continue
            }
            let sent = connection.pointee.sendPureAck(now: now, &self)
            if !sent { connection.pointee.inAckList = tcp.returnToFront(id, of: .ack) }
            settle(connection)  // the delayed-ACK timer it stopped
            if !sent { break }
        }
        if tcp.configuration.dataScheduling == .srpt {
            flushSizeOrderedData(now: now)
        } else {
            flushData(.shortData, now: now)
            flushData(.bulkData, now: now)
        }
        sendAcksTheDataHeld(now: now)
    }

    /// The ACKs left to data that the line (or silly-window avoidance) held back
    /// go bare: they were admitted with the ACK list, so they wait for no credit.
    private mutating func sendAcksTheDataHeld(now: Instant) {
        while let id = tcp.acksAwaitingData.pop() {
            guard let connection = tcp.connections.block(id), connection.pointee.ackPending else { continue }
            // Without transmit room the ACK waits on the ACK list for the next iteration.
            if !connection.pointee.sendPureAck(now: now, &self) { connection.pointee.queueAck() }
            settle(connection)
        }
    }

    private mutating func flushData(_ list: TCPLayer.OutputList, now: Instant) {
        // Bounded by the entries at the start: a connection queued again while
        // being served waits for the next iteration.
        var remaining = tcp.count(of: list)
        while remaining > 0, shaper.hasCredit, let id = tcp.pop(from: list) {
            remaining -= 1
            guard let connection = tcp.connections.block(id), connection.pointee.inDataList else { continue }
            connection.pointee.inDataList = false
            let sentAll = sendDataListSegments(connection, now: now)
            if !sentAll {
                // Out of transmit room or line credit: it keeps its place, the rest wait
                // behind it; in the class its size now puts it in (an undeclared flow
                // that has sent enough is bulk).
                let short = connection.pointee.isShortFlow(threshold: tcp.configuration.shortFlowThreshold)
                connection.pointee.inDataList = tcp.returnToFront(id, of: short ? .shortData : .bulkData)
            }
            settle(connection)
            if !sentAll { return }
        }
    }

    /// `sendData` for a connection of the data list: its segments wait for line
    /// credit, and after `byteLimit` payload bytes (new or resent) for its next
    /// turn. The bytes it sent are in `dataTurnBytes` afterwards.
    @inline(__always)
    mutating func sendDataListSegments(_ connection: UnsafeMutablePointer<TCPConnection>, now: Instant,
                                       byteLimit: Int = .max) -> Bool {
        servingDataList = true
        dataTurnBytes = 0
        dataTurnLimit = byteLimit
        dataTurnLimited = false
        defer {
            servingDataList = false
            dataTurnLimit = .max
        }
        return connection.pointee.sendData(now: now, &self)
    }

    /// A data segment (or FIN) of the data list waits while the line has no
    /// credit, and one with data once its turn has sent `dataTurnLimit` bytes;
    /// what else goes at once is listed in `TransmitShaper`.
    @inline(__always)
    private mutating func heldByShaper(_ segment: OutgoingSegment) -> Bool {
        guard servingDataList, segment.payloadLength > 0 || segment.flags.contains(.fin) else { return false }
        if !shaper.hasCredit {
            statistics.shapedFrames &+= 1
            return true
        }
        if segment.payloadLength > 0 && dataTurnBytes >= dataTurnLimit {
            dataTurnLimited = true
            return true
        }
        return false
    }

    /// Builds one TCP frame and hands it to IPv4 or IPv6 output. False when no
    /// buffer was free or the transmit queue is full: a frame built then would be
    /// dropped after TCP counted it sent, a loss of our own making repaired only
    /// by a timeout (a burst of 10,000 SYNs, a load generator's requests behind a
    /// full device ring); instead the segment waits on its output list. Inlined,
    /// so that the segment's fields go straight into the header instead of
    /// through an `OutgoingSegment` in memory.
    @inline(__always)
    mutating func emit(_ segment: OutgoingSegment, now: Instant) -> Bool {
        guard output.hasRoom else { return false }
        if heldByShaper(segment) { return false }
        let header = TCPRepr(sourcePort: segment.tuple.localPort, destinationPort: segment.tuple.remotePort,
                             sequenceNumber: segment.sequence.rawValue,
                             acknowledgmentNumber: segment.acknowledgment?.rawValue, flags: segment.flags,
                             window: segment.window, options: segment.options, payloadLength: segment.payloadLength)
        let source = segment.tuple.localAddress, destination = segment.tuple.remoteAddress
        // The device's offload requests describe IPv4 frames (DPDK's TX_IPV4 and
        // a 20-byte l3_len): an IPv6 segment's checksum is computed here.
        let offloaded = source.isIPv4 && device.transmitOffloads.contains(.computeTCPChecksum)
        func writeSegment(_ bytes: UnsafeMutableRawBufferPointer) {
            let wire = TCPSegment(unchecked: bytes)
            header.emit(into: wire)
            if segment.payloadLength > 0 {
                segment.payloadSource.unsafelyUnwrapped.pointee.copy(
                    from: segment.payloadOffset, count: segment.payloadLength,
                    into: wire.bytes.baseAddress.unsafelyUnwrapped + header.headerLength)
            }
            if offloaded {
                wire.fillPseudoHeaderChecksum(source: source, destination: destination)
            } else {
                wire.fillChecksum(source: source, destination: destination)
            }
        }
        let sent: Bool
        if source.isIPv4 {
            sent = sendIPv4(from: source.v4, to: destination.v4, protocol: .tcp, payloadLength: header.bufferLength,
                            offload: offloaded ? [.computeIPv4Checksum, .computeTCPChecksum] : [], now: now) { packet in
                writeSegment(packet.payload)
            }
        } else {
            sent = sendIPv6(from: source.v6, to: destination.v6, nextHeader: .tcp, payloadLength: header.bufferLength,
                            now: now, writePayload: writeSegment)
        }
        if sent {
            tcp.statistics.segmentsSent &+= 1
            if servingDataList { dataTurnBytes &+= segment.payloadLength }
        }
        return sent
    }
}

/// The engine is the connections' environment: it sends their segments and
/// keeps the listeners' queues.
///
/// The witnesses are `@usableFromInline` and forced inline, so that in the
/// specialised engine loop of the modules above they run as methods of the
/// engine specialised for its device, not through the conformance's witness
/// table (see `TCPConnectionEnvironment`).
extension Engine: TCPConnectionEnvironment {
    /// The TCP settings (buffer sizes, MSS, timers) this engine runs with.
    public var tcpConfiguration: TCPConfiguration {
        @inline(__always) get { tcp.configuration }
    }

    @usableFromInline var connectionStatistics: TCPStatistics {
        @inline(__always) get { tcp.statistics }
        @inline(__always) _modify { yield &tcp.statistics }
    }

    @inline(__always)
    @usableFromInline mutating func transmit(_ segment: OutgoingSegment, now: Instant) -> Bool {
        emit(segment, now: now)
    }

    @inline(__always)
    @usableFromInline mutating func admitToAcceptQueue(_ connection: ConnectionID,
                                                       listener: Int32) -> AcceptAdmission {
        let listener = Int(listener)
        guard tcp.listeners.isActive(listener) else { return .listenerGone }
        guard tcp.listeners.pushAcceptable(listener, connection) else { return .queueFull }
        tcp.listeners[listener].halfOpen -= 1
        return .admitted
    }
}
