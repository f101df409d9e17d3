/// TCP output: mTCP's three lists flushed in priority order — control (SYN,
/// SYN-ACK, FIN-only, RST), then pure ACKs, then data with short flows first — and
/// the segment builder shared by all of them.
extension Engine {
    // MARK: - Queueing work for the flush

    @inline(__always)
    mutating func queueControl(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, _ flags: TCPFlags) {
        block.pointee.controlToSend.formUnion(flags)
        guard !block.pointee.inControlList else { return }
        block.pointee.inControlList = tcp.push(id, to: .control)
    }

    @inline(__always)
    mutating func queueAck(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>) {
        block.pointee.ackPending = true
        guard !block.pointee.inAckList else { return }
        block.pointee.inAckList = tcp.push(id, to: .ack)
    }

    /// Puts a connection with data (or a FIN) to send on the data list: the short
    /// part when little is left to send, so short flows are not stuck behind bulk.
    @inline(__always)
    mutating func queueData(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>) {
        guard !block.pointee.inDataList else { return }
        let threshold = tcp.configuration.shortFlowThreshold
        let short = threshold > 0 && block.pointee.unsentBytes <= threshold
        block.pointee.inDataList = tcp.push(id, to: short ? .shortData : .bulkData)
    }

    /// Marks events for the application and puts the connection on the event list
    /// (only once it has a handle: events of unaccepted connections wait for accept).
    @inline(__always)
    mutating func postEvents(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                             _ events: ConnectionEvents) {
        block.pointee.pendingEvents.formUnion(events)
        guard block.pointee.ownedByApplication, !block.pointee.inEventList else { return }
        block.pointee.inEventList = tcp.push(id, to: .events)
    }

    /// A delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2): at the latest every
    /// second full-sized segment, or when the delayed-ACK timer fires.
    mutating func scheduleAck(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, fullSized: Bool,
                              now: Instant) {
        guard let delay = tcp.configuration.delayedAck else { return queueAck(id, block) }
        if block.pointee.quickAcksLeft > 0 {
            block.pointee.quickAcksLeft -= 1
            return queueAck(id, block)
        }
        if fullSized { block.pointee.fullSegmentsUnacknowledged += 1 }
        if block.pointee.fullSegmentsUnacknowledged >= 2 { return queueAck(id, block) }
        let node = TCPTimer.delayedAck.node(id.index)
        if !tcp.timers.isScheduled(node) { tcp.timers.schedule(node, at: now + delay) }
    }

    // MARK: - Flush

    /// Builds this iteration's segments in priority order into the transmit queue.
    mutating func flushTCP(now: Instant) {
        while let id = tcp.pop(from: .control) {
            guard let block = tcp.connections.block(id), block.pointee.inControlList else { continue }
            block.pointee.inControlList = false
            let flags = block.pointee.controlToSend
            block.pointee.controlToSend = []
            sendControl(id, block, flags, now: now)
        }
        while let id = tcp.pop(from: .ack) {
            guard let block = tcp.connections.block(id), block.pointee.inAckList else { continue }
            block.pointee.inAckList = false
            // A data segment about to go out carries the ACK anyway.
            guard block.pointee.ackPending, !(block.pointee.inDataList && canSendData(block)) else { continue }
            sendPureAck(block, now: now)
        }
        flushData(.shortData, now: now)
        flushData(.bulkData, now: now)
    }

    private mutating func flushData(_ list: TCPLayer.OutputList, now: Instant) {
        var remaining = tcp.count(of: list)
        while remaining > 0, let id = tcp.pop(from: list) {
            remaining -= 1
            guard let block = tcp.connections.block(id), block.pointee.inDataList else { continue }
            block.pointee.inDataList = false
            if !sendData(id, block, now: now) {
                // Out of transmit room: try again next iteration, in the same order.
                block.pointee.inDataList = tcp.push(id, to: list)
            }
        }
    }

    @inline(__always)
    private func canSendData(_ block: UnsafeMutablePointer<ControlBlock>) -> Bool {
        return (block.pointee.unsentBytes > 0 && block.pointee.sendRoom > 0) || block.pointee.finDue
    }

    private mutating func sendControl(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                                      _ flags: TCPFlags, now: Instant) {
        if flags.contains(.syn) {
            // SYN or SYN-ACK: always at the initial sequence number.
            let synFlags: TCPFlags = block.pointee.state == .synSent ? .syn : [.syn, .ack]
            guard transmitSegment(block, flags: synFlags, sequence: block.pointee.initialSendSequence,
                                  dataLength: 0, now: now) else { return }
            let afterSYN = block.pointee.initialSendSequence + 1
            if block.pointee.sendNext < afterSYN { block.pointee.sendNext = afterSYN }
            if block.pointee.sendMaximum < afterSYN { block.pointee.sendMaximum = afterSYN }
            if !block.pointee.rttProbeActive && block.pointee.retransmissions == 0 {
                block.pointee.rttProbeActive = true
                block.pointee.rttProbeSequence = block.pointee.initialSendSequence
                block.pointee.rttProbeSentAt = now
            }
        }
    }

    /// Sends what the windows allow: new data, a retransmission after a timeout,
    /// and the FIN once the data is out. False when the transmit path ran out of
    /// room and the connection must stay on the data list.
    /// - Parameter overridingSWS: send a runt now even if SWS avoidance would wait
    ///   (the persist timer fired: RFC 9293 §3.8.6.2.1's override timeout).
    mutating func sendData(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant,
                           overridingSWS: Bool = false) -> Bool {
        guard block.pointee.state.isSynchronized || block.pointee.state == .synReceived,
              block.pointee.state != .synReceived else { return true }
        let mss = payloadLimit(block)
        var sentAny = false
        var transmitPathFull = false
        while true {
            let unsent = block.pointee.unsentBytes
            if unsent == 0 {
                guard block.pointee.finDue else { break }
                let fin = block.pointee.finSequence
                guard transmitSegment(block, flags: [.fin, .ack], sequence: fin, dataLength: 0, now: now) else {
                    transmitPathFull = true
                    break
                }
                if block.pointee.sendMaximum > fin { countRetransmission() }
                advanceSendNext(block, to: fin + 1)
                sentAny = true
                break
            }
            let usable = block.pointee.sendRoom
            guard usable > 0 else { break }
            let length = min(mss, unsent, usable)
            // Sender silly-window avoidance (RFC 9293 §3.8.6.2.1): a runt only
            // when it empties the buffer or fills half the largest window seen.
            guard length == mss || length == unsent || length >= block.pointee.maximumSendWindow / 2
                || (overridingSWS && !sentAny) else { break }
            let finToo = block.pointee.finQueued && length == unsent
            var flags: TCPFlags = length == unsent ? [.ack, .psh] : .ack
            if finToo { flags.insert(.fin) }
            let sequence = block.pointee.sendNext
            guard transmitSegment(block, flags: flags, sequence: sequence, dataLength: length, now: now) else {
                transmitPathFull = true
                break
            }
            if sequence < block.pointee.sendMaximum {
                countRetransmission()
            } else if !block.pointee.rttProbeActive {
                block.pointee.rttProbeActive = true
                block.pointee.rttProbeSequence = sequence
                block.pointee.rttProbeSentAt = now
            }
            advanceSendNext(block, to: sequence + length + (finToo ? 1 : 0))
            sentAny = true
        }
        if sentAny {
            // RFC 6298 §5.1: start the timer if it is not running.
            if !tcp.timers.isScheduled(TCPTimer.retransmission.node(id.index)) {
                armRetransmission(id.index, block, now: now)
            }
            block.pointee.persistBackoff = 0
            tcp.timers.cancel(TCPTimer.persist.node(id.index))
        }
        // Segments already sent before the transmit path filled up are timed above:
        // the retry from the data list may find the window full and send nothing, and
        // without the timer a loss of those segments would never be repaired.
        if transmitPathFull { return false }
        // The ACK list left this connection's ACK to a data segment that silly-window
        // avoidance then held back: send it bare.
        if block.pointee.ackPending {
            sendPureAck(block, now: now)
        }
        // Data held back with nothing in flight: no ACK will come to release it, so
        // the persist timer must (zero window, or a window too small to use).
        if block.pointee.bytesInFlight == 0 && block.pointee.unsentBytes > 0 {
            armPersist(id.index, block, now: now)
        }
        return true
    }

    @inline(__always)
    mutating func countRetransmission() { tcp.statistics.retransmittedSegments &+= 1 }

    /// A segment with no data (an ACK, a window update) at SND.MAX rather than
    /// SND.NXT: after a timeout SND.NXT goes back to SND.UNA while the peer may
    /// already hold everything up to SND.MAX, and a zero-length segment below its
    /// RCV.NXT is not acceptable (RFC 9293 §3.10.7.4; Linux drops it), so our ACKs
    /// and window updates would be lost on it. BSD sends SND.MAX too.
    @inline(__always)
    mutating func sendPureAck(_ block: UnsafeMutablePointer<ControlBlock>, now: Instant) {
        _ = transmitSegment(block, flags: .ack, sequence: block.pointee.sendMaximum, dataLength: 0, now: now)
    }

    /// Payload bytes that fit in one segment: the MSS counts no TCP options
    /// (RFC 9293 §3.7.1, RFC 6691), so options we send come out of it.
    @inline(__always)
    func payloadLimit(_ block: UnsafeMutablePointer<ControlBlock>) -> Int {
        var options = block.pointee.timestampOptionBytes
        if block.pointee.selectiveAcknowledgmentsEnabled && block.pointee.receive.hasOutOfOrderData {
            // NOP, NOP, kind, length and 8 bytes a block; room for the most blocks
            // that fit, rather than counting them for every segment.
            options += 4 + 8 * (block.pointee.timestampsEnabled ? 3 : 4)
        }
        return block.pointee.sendMSS - options
    }

    @inline(__always)
    private func advanceSendNext(_ block: UnsafeMutablePointer<ControlBlock>, to next: SequenceNumber) {
        block.pointee.sendNext = next
        if block.pointee.sendMaximum < next { block.pointee.sendMaximum = next }
    }

    /// Resends one segment from SND.UNA (timeout, fast retransmit, partial ACK)
    /// and restarts the retransmission timer. Returns the sequence space it
    /// covers (data, plus one for a FIN).
    @discardableResult
    mutating func retransmitOldest(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>,
                                   now: Instant) -> Int {
        let start = block.pointee.sendUnacknowledged
        let offset = start - block.pointee.sendBufferStart
        // Bytes already sent were inside the window when they left; beyond them the
        // peer's current window still bounds the segment (RFC 9293 §3.8.6).
        let sent = max(0, block.pointee.sendMaximum - start)
        let length = min(payloadLimit(block), block.pointee.send.count - offset,
                         max(sent, block.pointee.sendWindow))
        let withFIN = block.pointee.finSent && start + length == block.pointee.finSequence
        block.pointee.rttProbeActive = false
        armRetransmission(id.index, block, now: now)
        guard length > 0 || withFIN else { return 0 }
        countRetransmission()
        var flags: TCPFlags = .ack
        if withFIN { flags.insert(.fin) }
        _ = transmitSegment(block, flags: flags, sequence: start, dataLength: max(length, 0), now: now)
        let covered = max(length, 0) + (withFIN ? 1 : 0)
        // A full segment from SND.UNA may reach past what was ever sent.
        if block.pointee.sendMaximum < start + covered { block.pointee.sendMaximum = start + covered }
        return covered
    }

    /// SACK-based recovery (RFC 6675 §5, simplified): while the estimated data
    /// in the network ("pipe") leaves room in the congestion window, resend the
    /// next hole above the highest byte retransmitted so far.
    /// - Parameter forcingFirst: the recovery starts here, and its first
    ///   retransmission goes whatever pipe says (RFC 6675 §5 (4.3), RFC 5681 §3.2
    ///   step 3): pipe is only an estimate, and the lost segment holds up the rest.
    mutating func retransmitHoles(_ id: ConnectionID, _ block: UnsafeMutablePointer<ControlBlock>, now: Instant,
                                  forcingFirst: Bool = false) {
        let limit = payloadLimit(block)
        var sentAny = false
        var resentHead = false
        while (forcingFirst && !sentAny) || block.pointee.pipe < block.pointee.congestion.cwnd {
            let from = max(block.pointee.highestRetransmitted, block.pointee.sendUnacknowledged)
            guard let hole = block.pointee.scoreboard.hole(from: from) else { break }
            let offset = hole.start - block.pointee.sendBufferStart
            let length = min(hole.length, limit, block.pointee.send.count - offset)
            guard length > 0,
                  transmitSegment(block, flags: .ack, sequence: hole.start, dataLength: length, now: now) else { break }
            countRetransmission()
            resentHead = resentHead || hole.start == block.pointee.sendUnacknowledged
            block.pointee.highestRetransmitted = hole.start + length
            block.pointee.rttProbeActive = false
            sentAny = true
        }
        // The timer restarts for a new ACK (RFC 6298 §5.3) and, as Linux does, for
        // a resent SND.UNA; a later hole's retransmission must not postpone the
        // timeout of a lost retransmission of SND.UNA.
        if resentHead || (sentAny && !tcp.timers.isScheduled(TCPTimer.retransmission.node(id.index))) {
            armRetransmission(id.index, block, now: now)
        }
    }

    // MARK: - Segment building

    /// Sends one segment of a connection, with its ACK, window and options.
    /// False when no buffer was free.
    mutating func transmitSegment(_ block: UnsafeMutablePointer<ControlBlock>, flags: TCPFlags,
                                  sequence: SequenceNumber, dataLength: Int, now: Instant) -> Bool {
        var options = TCPOptions()
        let configuration = tcp.configuration
        let isSYN = flags.contains(.syn)
        if isSYN {
            options.maximumSegmentSize = UInt16(configuration.maximumSegmentSize)
            let activeOpen = block.pointee.state == .synSent
            if activeOpen || block.pointee.sendWindowShift > 0 || block.pointee.receiveWindowShift > 0 {
                options.windowScale = configuration.windowScale
                if activeOpen { block.pointee.receiveWindowShift = configuration.windowScale }
            }
            options.sackPermitted = activeOpen ? configuration.selectiveAcknowledgments
                                               : block.pointee.selectiveAcknowledgmentsEnabled
        }
        let useTimestamps = isSYN && block.pointee.state == .synSent ? configuration.timestamps
                                                                       : block.pointee.timestampsEnabled
        if useTimestamps {
            options.timestamp = TCPTimestamp(value: timestampClock(now), echoReply: block.pointee.timestampRecent)
        }
        if block.pointee.selectiveAcknowledgmentsEnabled && !isSYN && block.pointee.receive.hasOutOfOrderData {
            // Room left in the 40-byte option space: 4 blocks, 3 beside timestamps.
            options.sackBlocks = block.pointee.receive.sackBlockList(limit: useTimestamps ? 3 : 4,
                                                                     receiveNext: block.pointee.receiveNext.rawValue)
        }
        let acknowledgment: SequenceNumber? = block.pointee.state == .synSent ? nil : block.pointee.receiveNext
        let window = advertiseWindow(block, isSYN: isSYN)
        let offset = sequence - block.pointee.sendBufferStart
        guard emitSegment(tuple: block.pointee.tuple, sequence: sequence, acknowledgment: acknowledgment,
                          flags: flags, window: window, options: options, now: now, payloadLength: dataLength,
                          payload: { block.pointee.send.copy(from: offset, count: dataLength, into: $0) })
        else { return false }
        if let acknowledgment {
            block.pointee.lastAcknowledgmentSent = acknowledgment
            block.pointee.ackPending = false
            block.pointee.fullSegmentsUnacknowledged = 0
        }
        return true
    }

    /// The window field to send, with receiver silly-window avoidance (RFC 9293
    /// §3.8.6.2.2): the right edge moves only by at least min(buffer/2, MSS), and
    /// never to the left.
    @inline(__always)
    private func advertiseWindow(_ block: UnsafeMutablePointer<ControlBlock>, isSYN: Bool) -> UInt16 {
        let next = block.pointee.receiveNext
        let available = block.pointee.receive.window
        if isSYN {
            // The window of a SYN is never scaled (RFC 7323 §2.2).
            let window = min(available, 0xFFFF)
            block.pointee.advertisedWindowEdge = next + window
            return UInt16(window)
        }
        // A scaled field is truncated (RFC 7323 §2.3): a new edge is set where the
        // field can name it, so what is advertised never exceeds the buffer.
        let shift = Int(block.pointee.receiveWindowShift)
        let candidate = next + ((available >> shift) << shift)
        let step = min(block.pointee.receive.capacity / 2, block.pointee.sendMSS)
        if candidate - block.pointee.advertisedWindowEdge >= step || block.pointee.advertisedWindowEdge < next {
            block.pointee.advertisedWindowEdge = candidate
        }
        let window = max(0, block.pointee.advertisedWindowEdge - next)
        return UInt16(min(window >> shift, 0xFFFF))
    }

    /// TSval clock: milliseconds (RFC 7323 §5.4 allows 1 ms to 1 s per tick).
    @inline(__always)
    func timestampClock(_ now: Instant) -> UInt32 { UInt32(truncatingIfNeeded: now.nanoseconds / 1_000_000) }

    /// Builds one TCP/IPv4 frame and hands it to IPv4 output. `payload` copies
    /// `payloadLength` bytes to the pointer it is given. False when no buffer was free.
    @discardableResult
    mutating func emitSegment(tuple: FourTuple, sequence: SequenceNumber, acknowledgment: SequenceNumber?,
                              flags: TCPFlags, window: UInt16, options: TCPOptions, now: Instant,
                              payloadLength: Int = 0,
                              payload: (UnsafeMutableRawPointer) -> Void = { _ in }) -> Bool {
        let header = TCPRepr(sourcePort: tuple.localPort, destinationPort: tuple.remotePort,
                             sequenceNumber: sequence.rawValue, acknowledgmentNumber: acknowledgment?.rawValue,
                             flags: flags, window: window, options: options, payloadLength: payloadLength)
        let ip = IPv4Repr(source: tuple.localAddress, destination: tuple.remoteAddress, protocol: .tcp,
                          payloadLength: header.bufferLength)
        guard var buffer = device.allocate() else {
            statistics.drops.count(.bufferExhausted)
            return false
        }
        buffer.length = EthernetFrame.headerLength + ip.bufferLength
        let offloaded = device.transmitOffloads.contains(.computeTCPChecksum)
        let packet = IPv4Packet(unchecked: EthernetFrame(unchecked: buffer.frame).payload)
        ip.emit(into: packet, checksumOffloaded: offloaded)
        let segment = TCPSegment(unchecked: packet.payload)
        header.emit(into: segment)
        if payloadLength > 0 { payload(segment.bytes.baseAddress.unsafelyUnwrapped + header.headerLength) }
        if offloaded {
            segment.fillPseudoHeaderChecksum(source: tuple.localAddress, destination: tuple.remoteAddress)
            buffer.offload = [.computeIPv4Checksum, .computeTCPChecksum]
        } else {
            segment.fillChecksum(source: tuple.localAddress, destination: tuple.remoteAddress)
        }
        tcp.statistics.segmentsSent &+= 1
        sendIPv4(buffer, to: tuple.remoteAddress, now: now)
        return true
    }

    /// A reset for a segment that has no (valid) connection (RFC 9293 §3.10.7.1).
    mutating func sendReset(replyingTo segment: IncomingSegment, tuple: FourTuple, now: Instant) {
        tcp.statistics.resetsSent &+= 1
        if segment.flags.contains(.ack) {
            emitSegment(tuple: tuple, sequence: segment.acknowledgment, acknowledgment: nil, flags: .rst,
                        window: 0, options: TCPOptions(), now: now)
        } else {
            emitSegment(tuple: tuple, sequence: SequenceNumber(0), acknowledgment: segment.sequence + segment.length,
                        flags: [.rst, .ack], window: 0, options: TCPOptions(), now: now)
        }
    }
}
