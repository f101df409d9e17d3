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
