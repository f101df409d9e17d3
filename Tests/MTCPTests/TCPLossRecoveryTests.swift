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
}
