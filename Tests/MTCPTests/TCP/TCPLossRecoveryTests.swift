import Testing
@testable import MTCP

/// Loss recovery of the sender, segment by segment against a scripted peer with
/// explicit time: fast retransmit (RFC 5681 §3.2), NewReno's guard (RFC 6582) and
/// SACK-based recovery (RFC 6675). Segments are 1000 bytes (the peer's MSS, no
/// timestamps), so segment k of the transfer starts at `base + k * 1000`.
@Suite struct TCPLossRecoveryTests {
    static let segment = 1000

    static func peer() -> RawTCPPeer {
        RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, sendBufferSize: 65536, delayedAck: nil))
    }

    /// Opens a connection from `peer.peerPort`, writes `bytes` and returns the first
    /// data sequence number with what the engine sent at once (its initial window).
    static func openAndWrite(_ peer: inout RawTCPPeer, _ listener: ListenerID, bytes: Int, sack: Bool) throws
        -> (base: UInt32, connection: ConnectionID, sent: [RawTCPPeer.Reply]) {
        let options = TCPOptions(maximumSegmentSize: UInt16(segment), sackPermitted: sack)
        let handshake = peer.establish(listener: listener, options: options)
        let (isn, connection) = try #require(handshake)
        let data = seededBytes(bytes, seed: UInt64(peer.peerPort))
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == bytes)
        return (isn &+ 1, connection, peer.run())
    }

    static func sackOptions(_ blocks: [(UInt32, UInt32)]) -> TCPOptions {
        var options = TCPOptions()
        for (left, right) in blocks { options.sackBlocks.append(SACKBlock(left: left, right: right)) }
        return options
    }

    /// Acknowledges the initial window segment by segment: slow start brings cwnd
    /// from 10 to 20 segments and the 20 segments from 10 on are in flight.
    static func growToTwentySegmentsInFlight(_ peer: inout RawTCPPeer, base: UInt32) -> [RawTCPPeer.Reply] {
        var sent: [RawTCPPeer.Reply] = []
        for acked in 1...10 { sent += peer.send(.ack, seq: 1001, ack: base &+ UInt32(acked * segment)) }
        return sent
    }

    @Test(arguments: [false, true])
    func thirdDuplicateAckStartsFastRetransmitWhateverTheISS(sack: Bool) throws {
        // RFC 6582 §3.2 step 1 ("recover" starts at the ISS) and RFC 5681 §3.2 step 2:
        // the third duplicate ACK of a connection's first loss starts fast
        // retransmit. The guard used to compare SND.UNA with a recovery point of 0,
        // false for ISS values in the upper half of the sequence space: those
        // connections waited for the RTO (issue 23.2). With SACK the duplicates
        // carry blocks for segments 2, 2-3, 2-4 (segment 1 lost).
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        var upperHalfSeen = false
        var lowerHalfSeen = false
        for _ in 0..<64 where !(upperHalfSeen && lowerHalfSeen) {
            peer.peerPort += 1
            let (base, connection, sent) = try Self.openAndWrite(&peer, listener, bytes: 10 * Self.segment, sack: sack)
            #expect(sent.count == 10, "IW10")
            let upperHalf = !(SequenceNumber(base) > SequenceNumber(0))
            upperHalfSeen = upperHalfSeen || upperHalf
            lowerHalfSeen = lowerHalfSeen || !upperHalf
            let ack = base &+ UInt32(Self.segment)
            _ = peer.send(.ack, seq: 1001, ack: ack)
            var resent: [Int] = []
            for duplicate in 1...3 {
                let options = sack ? Self.sackOptions([(base &+ 2000, base &+ UInt32(2000 + duplicate * 1000))])
                                   : TCPOptions()
                let replies = peer.send(.ack, seq: 1001, ack: ack, options: options)
                for reply in replies where !reply.payload.isEmpty { resent.append(duplicate) }
                if duplicate == 3 {
                    #expect(replies.contains { $0.sequence == ack && $0.payload.count == Self.segment },
                            "ISS \(base &- 1): segment 1 resent after the third duplicate ACK")
                }
            }
            #expect(resent == [3], "ISS \(base &- 1): \(resent)")
            peer.engine.abort(connection, now: peer.now)
            _ = peer.run()
        }
        #expect(peer.engine.tcpStatistics.timeouts == 0)
        try #require(upperHalfSeen && lowerHalfSeen, "ISS values on both sides of 0 + 2^31 were tried")
    }

    @Test func firstRetransmissionOfARecoveryIsSentWhateverThePipe() throws {
        // RFC 5681 §3.2 step 3 and RFC 6675 §5 (4.3): entering recovery resends the
        // first lost segment unconditionally; only later retransmissions wait for
        // pipe < cwnd. Twenty segments in flight, the first lost, the next three
        // SACKed: every estimate of pipe is above the halved window.
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Self.openAndWrite(&peer, listener, bytes: 40 * Self.segment, sack: true)
        #expect(sent.count == 10)
        #expect(Self.growToTwentySegmentsInFlight(&peer, base: base).count == 20)
        let ack = base &+ UInt32(10 * Self.segment)
        var resentAfter: [Int] = []
        for duplicate in 1...3 {
            let options = Self.sackOptions([(ack &+ 1000, ack &+ UInt32(1000 + duplicate * 1000))])
            let replies = peer.send(.ack, seq: 1001, ack: ack, options: options)
            if replies.contains(where: { $0.sequence == ack && !$0.payload.isEmpty }) { resentAfter.append(duplicate) }
        }
        #expect(resentAfter == [3], "segment 10 resent after the third duplicate ACK")
        #expect(peer.engine.tcpStatistics.fastRetransmits == 1)
    }

    @Test(arguments: 1...12)
    func sackRecoveryRepairsEveryFirstTransmissionLossWithoutATimeout(seed: UInt64) throws {
        // RFC 6675 §5: losses of first transmissions, several in one window, are all
        // repaired by SACK recovery; none waits for the RTO. (Partial ACKs used to
        // deflate cwnd as NewReno does, RFC 6582 §3.2 step 5, while pipe still
        // counted the lost segments, so recovery could stall until the timer.) The
        // last three segments arrive, so every loss is followed by three SACKed ones.
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let total = 40
        let (base, _, sent) = try Self.openAndWrite(&peer, listener, bytes: total * Self.segment, sack: true)
        var random = SeededRandom(seed: seed)
        var drops: Set<Int> = []
        for index in 10..<(total - 3) where random.next() % 4 == 0 { drops.insert(index) }
        var receiver = LossyReceiver(base: base, segment: Self.segment, count: total, drops: drops)
        for reply in sent { _ = receiver.receive(reply) }
        let grown = Self.growToTwentySegmentsInFlight(&peer, base: base)
        Self.deliver(&peer, &receiver, grown, limit: .seconds(5))
        #expect(receiver.complete, "drops \(drops.sorted()): \(receiver.delivered.filter { $0 }.count) of \(total)")
        #expect(peer.engine.tcpStatistics.timeouts == 0, "drops \(drops.sorted())")
    }

    @Test func pureAcksCarrySNDMAXAfterATimeoutMovedSNDNXTBack() throws {
        // RFC 9293 §3.10.7.4 (first check): a zero-length segment below the
        // receiver's RCV.NXT is not acceptable, and Linux drops it (tcp_sequence).
        // After a timeout SND.NXT goes back to SND.UNA (go-back-N) while the peer
        // may hold everything up to SND.MAX, so pure ACKs, window updates among
        // them, carry SND.MAX, as BSD's do.
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Self.openAndWrite(&peer, listener, bytes: 3 * Self.segment, sack: false)
        #expect(sent.count == 3)
        peer.advance(.milliseconds(250))
        let resent = peer.run()
        #expect(resent.map(\.sequence) == [base], "the RTO resends segment 0 alone (cwnd 1)")
        let replies = peer.send([.ack, .psh], seq: 1001, ack: base, payload: [1, 2, 3])
        let ack = try #require(replies.first { $0.payload.isEmpty })
        #expect(ack.acknowledgment == 1004)
        #expect(ack.sequence == base &+ UInt32(3 * Self.segment), "SND.MAX, not SND.NXT")
    }

    static func smoothedRTT(_ peer: borrowing RawTCPPeer, _ connection: ConnectionID) -> TimeSpan? {
        peer.engine.tcp.connections.block(connection)?.pointee.rtt.smoothedRTT
    }

    @Test func rttIsSampledAfterTheMillisecondClockPasses2To31() throws {
        // RFC 7323 §4.1: the echoed TSval of an ACK for new data gives an RTT
        // sample, whatever the clock's value. After 24.8 days of uptime the TSval
        // clock is past 2^31 ms, and a serial comparison with the time of the last
        // retransmission (0: none yet) rejected every echo.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil),
                              start: .zero + .seconds(25 * 86_400))
        let listener = try peer.engine.listen(port: 80)
        let offer = TCPOptions(maximumSegmentSize: 1460, timestamp: TCPTimestamp(value: 1, echoReply: 0))
        let handshake = peer.establish(listener: listener, options: offer)
        let (isn, connection) = try #require(handshake)
        let before = Self.smoothedRTT(peer, connection)
        #expect((try? [UInt8](repeating: 1, count: 100).withUnsafeBytes { try peer.engine.write(connection, $0) })
                == 100)
        let data = try #require(peer.run().first)
        let tsval = try #require(data.header.options.timestamp).value
        peer.advance(.milliseconds(300))
        _ = peer.send(.ack, seq: 1001, ack: isn &+ 101,
                      options: TCPOptions(timestamp: TCPTimestamp(value: 2, echoReply: tsval)))
        #expect(Self.smoothedRTT(peer, connection) != before, "a 300 ms sample was taken")
    }

    @Test func rttIsSampledFromAnEchoOlderThanTheLastRetransmission() throws {
        // RFC 7323 §4.1 and RFC 6298 §3: with timestamps Karn's rule is not needed,
        // the echo names the transmission measured. A partial ACK in SACK recovery
        // echoes the retransmission that filled the first hole, sent before the
        // second hole's: such samples used to be refused, so under loss hardly any
        // sample survived and a backed-off RTO stayed up.
        var peer = Self.peer()
        peer.advance(.seconds(1))
        let listener = try peer.engine.listen(port: 80)
        // MSS 1012: 1000 bytes of payload beside the 12 bytes of the timestamp option.
        let offer = TCPOptions(maximumSegmentSize: 1012, sackPermitted: true,
                               timestamp: TCPTimestamp(value: 1, echoReply: 0))
        let handshake = peer.establish(listener: listener, options: offer)
        let (isn, connection) = try #require(handshake)
        let base = isn &+ 1
        #expect((try? seededBytes(10 * Self.segment, seed: 3).withUnsafeBytes { try peer.engine.write(connection, $0) })
                == 10 * Self.segment)
        let flight = peer.run()
        #expect(flight.count == 10 && flight.allSatisfy { $0.payload.count == Self.segment })
        let firstEcho = try #require(flight.first?.header.options.timestamp).value
        func ack(_ segments: Int, sack blocks: [(Int, Int)], echo: UInt32) -> [RawTCPPeer.Reply] {
            var options = Self.sackOptions(blocks.map { (base &+ UInt32($0 * 1000), base &+ UInt32($1 * 1000)) })
            options.timestamp = TCPTimestamp(value: 2, echoReply: echo)
            return peer.send(.ack, seq: 1001, ack: base &+ UInt32(segments * Self.segment), options: options)
        }
        // Segments 1 and 5 are lost.
        peer.advance(.milliseconds(10))
        _ = ack(1, sack: [], echo: firstEcho)
        var resent = ack(1, sack: [(2, 3)], echo: firstEcho) + ack(1, sack: [(2, 4)], echo: firstEcho)
            + ack(1, sack: [(2, 5)], echo: firstEcho)
        let firstHole = try #require(resent.first { $0.sequence == base &+ 1000 })
        peer.advance(.milliseconds(5))
        resent = ack(1, sack: [(6, 7), (2, 5)], echo: firstEcho)
        #expect(resent.contains { $0.sequence == base &+ 5000 }, "the second hole resent 5 ms later")
        peer.advance(.milliseconds(15))
        let before = Self.smoothedRTT(peer, connection)
        _ = ack(5, sack: [(6, 7)], echo: try #require(firstHole.header.options.timestamp).value)
        #expect(Self.smoothedRTT(peer, connection) != before, "the partial ACK's 20 ms sample was taken")
    }

    static func block(_ peer: borrowing RawTCPPeer, _ connection: ConnectionID) -> TCPConnection? {
        peer.engine.tcp.connections.block(connection)?.pointee
    }

    /// Advances 1 ms at a time until the engine sends a segment with data at
    /// `sequence`; returns how long that took.
    static func timeUntilSent(_ peer: inout RawTCPPeer, sequence: UInt32, limit: TimeSpan = .seconds(5)) -> TimeSpan? {
        let start = peer.now
        while peer.now.since(start) < limit {
            peer.advance(.milliseconds(1))
            if peer.run().contains(where: { $0.sequence == sequence && !$0.payload.isEmpty }) {
                return peer.now.since(start)
            }
        }
        return nil
    }

    @Test func holeRetransmissionsDoNotPostponeTheTimeoutOfSNDUNA() throws {
        // RFC 6298 §5.3: the timer restarts when an ACK acknowledges new data, not
        // when a later hole is resent; otherwise a lost retransmission of SND.UNA
        // waits for the last hole's retransmission plus an RTO (RTO 200 ms here).
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, _) = try Self.openAndWrite(&peer, listener, bytes: 40 * Self.segment, sack: true)
        _ = Self.growToTwentySegmentsInFlight(&peer, base: base)
        let ack = base &+ 10_000
        func duplicate(_ blocks: [(Int, Int)]) -> [RawTCPPeer.Reply] {
            peer.send(.ack, seq: 1001, ack: ack,
                      options: Self.sackOptions(blocks.map { (base &+ UInt32($0 * 1000), base &+ UInt32($1 * 1000)) }))
        }
        // Segment 10 is lost, and so is its fast retransmission.
        var resent = duplicate([(11, 12)]) + duplicate([(11, 13)]) + duplicate([(11, 14)])
        #expect(resent.contains { $0.sequence == ack && !$0.payload.isEmpty })
        let fastRetransmission = peer.now
        // Every 50 ms SACKs reveal another hole (14, 24, 28), resent each time.
        for blocks in [[(15, 24), (11, 14)], [(25, 28), (15, 24), (11, 14)], [(29, 30), (25, 28), (15, 24)]] {
            peer.advance(.milliseconds(50))
            resent = duplicate(blocks)
            #expect(resent.contains { !$0.payload.isEmpty && $0.sequence != ack }, "\(blocks)")
        }
        // With the ACKs stopped, the head probe resends SND.UNA after a PTO
        // (RACK-TLP's addition in recovery), well before the RTO...
        let probed = try #require(Self.timeUntilSent(&peer, sequence: ack))
        #expect(probed < .milliseconds(50), "head probe \(probed) after the last hole")
        #expect(peer.engine.tcpStatistics.tlpProbes == 1)
        // ...and neither it nor the holes postpone the RTO.
        let waited = try #require(Self.timeUntilSent(&peer, sequence: ack))
        let timeout = peer.now.since(fastRetransmission)
        #expect(timeout >= .milliseconds(200) && timeout <= .milliseconds(201), "\(timeout) (\(waited) after the probe)")
        #expect(peer.engine.tcpStatistics.timeouts == 1)
    }

    @Test func repeatedTimeoutsHoldSSThresh() throws {
        // RFC 5681 §3.1: when a segment is retransmitted by the timer more than once,
        // ssthresh is held; a second halving would start from the collapsed window
        // (one segment in flight) and leave 2 SMSS.
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, connection, _) = try Self.openAndWrite(&peer, listener, bytes: 40 * Self.segment, sack: false)
        _ = Self.growToTwentySegmentsInFlight(&peer, base: base)
        #expect(Self.timeUntilSent(&peer, sequence: base &+ 10_000) != nil)
        #expect(Self.block(peer, connection)?.congestion.ssthresh == 10 * Self.segment, "half of 20 in flight")
        #expect(Self.timeUntilSent(&peer, sequence: base &+ 10_000) != nil)
        #expect(peer.engine.tcpStatistics.timeouts == 2)
        #expect(Self.block(peer, connection)?.congestion.ssthresh == 10 * Self.segment, "held")
    }

    @Test func lossAmongTheDataResentAfterATimeoutIsFastRetransmitted() throws {
        // RFC 6582 §4.2 (the ACK heuristic): after a timeout, duplicate ACKs below
        // "recover" start fast retransmit when cwnd > SMSS and the last new ACK
        // advanced by at most 4 SMSS: the receiver then misses data resent after
        // the timeout rather than repeating data it already held. Without it every
        // loss among the resent data waited for another timeout (issue 28.4).
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let total = 40
        let (base, _, sent) = try Self.openAndWrite(&peer, listener, bytes: total * Self.segment, sack: false)
        var receiver = LossyReceiver(base: base, segment: Self.segment, count: total, drops: [16])
        for reply in sent { _ = receiver.receive(reply) }
        // Segments 10-29 are all lost; the timer resends segment 10, then the rest
        // follows as the window reopens, and the resent segment 16 is lost again.
        _ = Self.growToTwentySegmentsInFlight(&peer, base: base)
        Self.deliver(&peer, &receiver, [], limit: .seconds(5))
        #expect(receiver.complete)
        #expect(peer.engine.tcpStatistics.timeouts == 1)
        #expect(peer.engine.tcpStatistics.fastRetransmits == 1)
    }

    /// A connection whose peer offered 65535 bytes, then `window`; the application
    /// writes `bytes`. Returns our ISS.
    static func writeIntoPeerWindow(_ peer: inout RawTCPPeer, window: UInt16, bytes: Int) throws
        -> (engineISN: UInt32, connection: ConnectionID) {
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, window: window)
        #expect((try? [UInt8](repeating: 5, count: bytes).withUnsafeBytes { try peer.engine.write(connection, $0) })
                == bytes)
        return (isn, connection)
    }

    @Test func dataSentWhenTheWindowReopensIsTimedByTheRTONotByTheProbes() throws {
        // RFC 9293 §3.8.6.1 and RFC 6298 §5.1: zero-window probes back off on their
        // own; the data sent once the window reopens starts the retransmission
        // timer with the RTO (200 ms here), neither the probes' deadline nor their
        // backed-off interval.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil))
        let (isn, _) = try Self.writeIntoPeerWindow(&peer, window: 0, bytes: 100)
        var probes = 0
        for _ in 0..<5000 {
            peer.advance(.milliseconds(1))
            probes += peer.run().count
        }
        #expect(probes >= 3)
        let opened = peer.send(.ack, seq: 1001, ack: isn + 1, window: 1000)
        #expect(opened.first?.payload.count == 100)
        let resent = Self.timeUntilSent(&peer, sequence: isn + 1)
        #expect(resent.map { $0 >= .milliseconds(200) && $0 <= .milliseconds(201) } == true, "\(String(describing: resent))")
    }

    @Test func persistTimerRetriesWhenTransmitBuffersRanOut() throws {
        // RFC 9293 §3.8.6.2.1's override timer sends a runt into a small window; when
        // no transmit buffer was free it must try again, not leave the data with
        // nothing in flight, no timer and off the data list.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil))
        _ = try Self.writeIntoPeerWindow(&peer, window: 100, bytes: 1000)
        #expect(peer.run().isEmpty, "a 100-byte runt waits (sender silly-window avoidance)")
        var held: [PacketBuffer] = []
        while let buffer = peer.engine.device.allocate() { held.append(buffer) }
        peer.advance(.milliseconds(300))
        _ = peer.run()
        for buffer in held { peer.engine.device.release(buffer) }
        var sent: [RawTCPPeer.Reply] = []
        for _ in 0..<3000 where sent.isEmpty {
            peer.advance(.milliseconds(1))
            sent = peer.run().filter { !$0.payload.isEmpty }
        }
        #expect(sent.first?.payload.count == 100)
    }

    @Test func segmentsSentBeforeTheTransmitPathFilledAreTimed() throws {
        // RFC 6298 §5.1: data sent starts the retransmission timer, even when the
        // next segment of the same burst found no transmit buffer; the retry may
        // send nothing (a full window), and a loss of the first segments would then
        // never be repaired.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil))
        let (_, connection) = try Self.writeIntoPeerWindow(&peer, window: 8000, bytes: 3000)
        var held: [PacketBuffer] = []
        while let buffer = peer.engine.device.allocate() { held.append(buffer) }
        peer.engine.device.release(held.removeLast())
        let sent = peer.run().filter { !$0.payload.isEmpty }
        #expect(sent.count == 1, "one buffer was free: one segment left")
        let timed = peer.engine.tcp.timers.isScheduled(TCPTimer.retransmission.node(connection.index))
        #expect(timed)
        for buffer in held { peer.engine.device.release(buffer) }
    }

    /// Hands the engine's segments to `receiver` in order and its ACKs back, with
    /// time standing still while there is traffic and moving by 1 ms otherwise.
    static func deliver(_ peer: inout RawTCPPeer, _ receiver: inout LossyReceiver, _ first: [RawTCPPeer.Reply],
                        limit: TimeSpan) {
        var queue = first[...]
        let deadline = peer.now + limit
        while !receiver.complete && peer.now < deadline {
            guard let reply = queue.popFirst() else {
                peer.advance(.milliseconds(1))
                queue = peer.run()[...]
                continue
            }
            guard let answer = receiver.receive(reply) else { continue }
            queue += peer.send(.ack, seq: 1001, ack: answer.ack, options: sackOptions(answer.blocks))
        }
    }
}

/// The peer's receive side for loss tests: which segments arrived (the first
/// transmission of those in `drops` is lost), acknowledged one by one as a
/// receiver does while it has a hole (RFC 5681 §4.2), with SACK blocks as
/// RFC 2018 §4 orders them (the block holding the latest segment first).
struct LossyReceiver {
    let base: UInt32
    let segment: Int
    var delivered: [Bool]
    var drops: Set<Int>

    init(base: UInt32, segment: Int, count: Int, drops: Set<Int>) {
        self.base = base
        self.segment = segment
        self.delivered = Array(repeating: false, count: count)
        self.drops = drops
    }

    var complete: Bool { delivered.allSatisfy { $0 } }

    /// Takes one segment; returns the ACK to send, nil when it was lost or carried no data.
    mutating func receive(_ reply: RawTCPPeer.Reply) -> (ack: UInt32, blocks: [(UInt32, UInt32)])? {
        guard !reply.payload.isEmpty else { return nil }
        let first = Int(reply.sequence &- base) / segment
        let last = (Int(reply.sequence &- base) + reply.payload.count - 1) / segment
        if drops.remove(first) != nil { return nil }
        for index in first...last where index < delivered.count { delivered[index] = true }
        let cumulative = delivered.firstIndex(of: false) ?? delivered.count
        var ranges: [(UInt32, UInt32)] = []
        var index = cumulative
        while index < delivered.count {
            guard delivered[index] else { index += 1; continue }
            let start = index
            while index < delivered.count && delivered[index] { index += 1 }
            let range = (base &+ UInt32(start * segment), base &+ UInt32(index * segment))
            if (start..<index).contains(first) { ranges.insert(range, at: 0) } else { ranges.append(range) }
        }
        return (base &+ UInt32(cumulative * segment), Array(ranges.prefix(SACKBlockList.capacity)))
    }
}
