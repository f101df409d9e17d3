import Testing
@testable import MTCP

/// Loss of data sent while the peer sends data too (an echo, a request pipelined
/// behind a response): its ACKs ride on its data segments, and a loss is found by
/// SACK or limited transmit before the retransmission timeout. Segments of 1000
/// bytes as in `TCPLossRecoveryTests`.
@Suite struct TCPBidirectionalLossTests {
    typealias Recovery = TCPLossRecoveryTests

    /// The peer's data segment at `sequence` (100 bytes) acknowledging `ack` with SACK `blocks`.
    static func dataSegment(_ peer: inout RawTCPPeer, sequence: UInt32, ack: UInt32,
                            sack blocks: [(UInt32, UInt32)]) -> [RawTCPPeer.Reply] {
        peer.send(.ack, seq: sequence, ack: ack, options: Recovery.sackOptions(blocks),
                  payload: [UInt8](repeating: 7, count: 100))
    }

    @Test func ackOnADataSegmentThatSACKsNewDataCountsAsDuplicate() throws {
        // RFC 6675 §2: a duplicate ACK is one whose SACK block covers octets not
        // SACKed before, whether or not the segment carries data. The 10-MiB echo
        // at 10% loss (test_impairment.py) spent most of its time in timeouts: the
        // kernel's ACKs all rode on echo data, none counted, and every loss there
        // waited for the RTO (629 timeouts to 139 fast retransmits in one run).
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 10 * Recovery.segment, sack: true)
        #expect(sent.count == 10)
        var resentAfter: [Int] = []
        var peerSequence: UInt32 = 1001
        for sacked in 1...3 {
            let replies = Self.dataSegment(&peer, sequence: peerSequence, ack: base,
                                           sack: [(base &+ 1000, base &+ UInt32(1000 + sacked * 1000))])
            peerSequence &+= 100
            if replies.contains(where: { $0.sequence == base && !$0.payload.isEmpty }) { resentAfter.append(sacked) }
        }
        #expect(resentAfter == [3], "segment 0 resent once three segments above it were SACKed")
        #expect(peer.engine.tcpStatistics.fastRetransmits == 1)
        #expect(peer.engine.tcpStatistics.timeouts == 0)
    }

    @Test func firstTwoDuplicatesSendNewDataByLimitedTransmit() throws {
        // RFC 3042 (and RFC 6675 §5): the first and second duplicate ACKs each let
        // one new segment out beyond cwnd, so that a window too small to bring
        // three duplicates (three segments in flight, the first lost) still gets
        // them, instead of waiting for the RTO.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 14 * Recovery.segment, sack: true)
        #expect(sent.count == 10, "IW10: four segments wait for the window")
        var newSegments: [[UInt32]] = []
        var peerSequence: UInt32 = 1001
        for sacked in 1...2 {
            let replies = Self.dataSegment(&peer, sequence: peerSequence, ack: base,
                                           sack: [(base &+ 1000, base &+ UInt32(1000 + sacked * 1000))])
            peerSequence &+= 100
            newSegments.append(replies.filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 })
        }
        #expect(newSegments == [[10], [11]], "one new segment per duplicate, nothing resent yet")
    }

    @Test func pipeAfterATimeoutCountsOnlyWhatIsBelowSNDNXT() throws {
        // After a timeout SND.NXT is back near SND.UNA while the peer SACKs what it
        // held up to SND.MAX. Fast recovery started then (RFC 6582 §4.2's heuristic)
        // counted those SACKs against the few bytes in flight: pipe went negative
        // and every further duplicate ACK released a burst beyond cwnd.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 10 * Recovery.segment, sack: true)
        #expect(sent.count == 10)
        // Segments 0-2 are lost; the timer resends segment 0, its ACK opens cwnd to two.
        #expect(Recovery.timeUntilSent(&peer, sequence: base) != nil)
        let afterAck = peer.send(.ack, seq: 1001, ack: base &+ 1000, options: Recovery.sackOptions([(base &+ 3000, base &+ 10_000)]))
        #expect(afterAck.filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 } == [1, 2])
        // Segment 1's copy is lost again, segment 2's arrives: duplicates SACK 2-9.
        var resent: [UInt32] = []
        for _ in 1...4 {
            let replies = peer.send(.ack, seq: 1001, ack: base &+ 1000,
                                    options: Recovery.sackOptions([(base &+ 2000, base &+ 10_000)]))
            resent += replies.filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 }
        }
        #expect(peer.engine.tcpStatistics.fastRetransmits == 1)
        #expect(resent == [1], "segment 1 resent once, no SACKed segment sent again")
    }
}

extension TCPBidirectionalLossTests {
    @Test func anAckAtTheRightEdgeOfOurWindowIsTaken() throws {
        // A peer that sent up to our right edge, its first segment lost, sends its
        // ACKs with SEG.SEQ = its SND.NXT = our edge. RFC 9293's acceptability
        // test (SEG.SEQ < RCV.NXT + RCV.WND) refused them with their ACK field, so
        // our data looked lost and the RTO resent it (the 10 MiB echo at 10% loss
        // through mtcp-impair: 186 segments out of window, 10 of 30 RTOs
        // spurious in 2 MiB). Linux takes SEG.SEQ up to the edge; so do we now.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, connection, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 2 * Recovery.segment,
                                                                 sack: true)
        #expect(sent.filter { !$0.payload.isEmpty }.count == 2)
        let window = Int(try #require(sent.last).header.window)
        #expect(window > 2 * Recovery.segment)
        // The peer's first segment (1001...2000) is lost; the rest fills the window.
        var offset = Recovery.segment
        while offset < window {
            let length = min(Recovery.segment, window - offset)
            _ = peer.send(.ack, seq: 1001 &+ UInt32(offset), ack: base,
                          payload: [UInt8](repeating: 1, count: length))
            offset += length
        }
        _ = peer.send(.ack, seq: 1001 &+ UInt32(window), ack: base &+ UInt32(2 * Recovery.segment))
        #expect(Recovery.block(peer, connection)?.sendUnacknowledged.rawValue == base &+ UInt32(2 * Recovery.segment))
        #expect(peer.engine.tcpStatistics.outOfWindow == 0)
    }
}
