import Testing
@testable import MTCP

/// D-SACK (RFC 2883) both ways: duplicates reported in the first SACK block,
/// and reports that widen RACK's reordering window (RFC 8985 §6.2 step 4).
@Suite struct DuplicateSACKTests {
    typealias Recovery = TCPLossRecoveryTests
    static let sackOnly = TCPOptions(maximumSegmentSize: 1460, sackPermitted: true)

    /// A passive open from `peer` (SACK offered unless `sack` is false);
    /// returns our initial sequence number.
    static func established(_ peer: inout RawTCPPeer, sack: Bool = true) throws -> UInt32 {
        let listener = try peer.engine.listen(port: 80)
        let handshake = sack ? peer.establish(listener: listener, options: sackOnly) : peer.establish(listener: listener)
        return try #require(handshake).0
    }

    @Test func aSegmentBelowRCVNXTIsReportedOnceAsADSACK() throws {
        var peer = RawTCPPeer()
        let isn = try Self.established(&peer)
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 10))
        _ = peer.run()
        // Our ACK of 1001..<1011 was lost: the peer sends the segment again.
        let replies = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 10))
        let ack = try #require(replies.first)
        #expect(ack.acknowledgment == 1011)
        #expect(Array(ack.header.options.sackBlocks) == [SACKBlock(left: 1001, right: 1011)], "RFC 2883 §4.1.1")
        // Reported once: the next ACK carries no SACK option.
        let next = peer.send(.ack, seq: 1011, ack: isn + 1, payload: [2])
        peer.advance(.milliseconds(50))
        let later = next + peer.run()
        #expect(later.allSatisfy { $0.header.options.sackBlocks.isEmpty })
    }

    /// A duplicate of the oldest of six out-of-order ranges: its range follows
    /// the report (RFC 2883 §4), once, and the most recently updated others
    /// fill the rest.
    @Test func theRangeHoldingADuplicateFollowsItWhereverItIs() throws {
        var peer = RawTCPPeer()
        let isn = try Self.established(&peer)
        for index in 1...6 {
            _ = peer.send(.ack, seq: 1001 + UInt32(index * 100), ack: isn + 1, payload: [UInt8](repeating: 1, count: 50))
        }
        _ = peer.run()
        let replies = peer.send(.ack, seq: 1101, ack: isn + 1, payload: [UInt8](repeating: 1, count: 50))
        let ack = try #require(replies.first)
        #expect(ack.acknowledgment == 1001)
        #expect(Array(ack.header.options.sackBlocks) == [SACKBlock(left: 1101, right: 1151), SACKBlock(left: 1101, right: 1151),
                                                       SACKBlock(left: 1601, right: 1651), SACKBlock(left: 1501, right: 1551)])
    }

    /// A segment (`first`, as sequence number and length), then one that copies
    /// part of what is held: the ACK number and SACK blocks of the answer.
    struct Copy: Sendable, CustomTestStringConvertible {
        var first: (UInt32, Int)
        var second: (UInt32, Int)
        var acknowledgment: UInt32
        var blocks: [SACKBlock]
        var testDescription: String
    }

    static let copies = [
        // RFC 2883 §4.2: inside an out-of-order range; the D-SACK, then the range.
        Copy(first: (1011, 20), second: (1021, 10), acknowledgment: 1001,
             blocks: [SACKBlock(left: 1021, right: 1031), SACKBlock(left: 1011, right: 1031)],
             testDescription: "a duplicate out-of-order segment"),
        // Straddling RCV.NXT: only the copied part is reported.
        Copy(first: (1001, 10), second: (1006, 10), acknowledgment: 1016, blocks: [SACKBlock(left: 1006, right: 1011)],
             testDescription: "a partly duplicate segment"),
    ]

    @Test(arguments: copies)
    func aCopyIsReportedFirst(_ copy: Copy) throws {
        var peer = RawTCPPeer()
        let isn = try Self.established(&peer)
        _ = peer.send(.ack, seq: copy.first.0, ack: isn + 1, payload: [UInt8](repeating: 2, count: copy.first.1))
        let replies = peer.send(.ack, seq: copy.second.0, ack: isn + 1, payload: [UInt8](repeating: 2, count: copy.second.1))
        let ack = try #require(replies.first)
        #expect(ack.acknowledgment == copy.acknowledgment)
        #expect(Array(ack.header.options.sackBlocks) == copy.blocks)
    }

    @Test func withoutSACKNoDSACKIsSent() throws {
        var peer = RawTCPPeer()
        let isn = try Self.established(&peer, sack: false)
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 10))
        let replies = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 10))
        #expect(replies.first?.header.options.sackBlocks.isEmpty == true)
    }

    @Test func dsacksWidenTheReorderingWindowOncePerRoundTrip() throws {
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, connection, _) = try Recovery.openAndWrite(&peer, listener, bytes: 10 * Recovery.segment, sack: true)
        let ack = base &+ 3000
        // The peer had segment 0 twice: the D-SACK lies below the cumulative ACK.
        _ = peer.send(.ack, seq: 1001, ack: ack, options: Recovery.sackOptions([(base, base &+ 1000)]))
        #expect(peer.engine.tcpStatistics.duplicateSACKsReceived == 1)
        #expect(Recovery.block(peer, connection)?.lossDetection.reorderWindowSteps == 2)
        // A second report in the same round trip counts but does not widen again.
        _ = peer.send(.ack, seq: 1001, ack: ack, options: Recovery.sackOptions([(base &+ 1000, base &+ 2000)]))
        #expect(peer.engine.tcpStatistics.duplicateSACKsReceived == 2)
        #expect(Recovery.block(peer, connection)?.lossDetection.reorderWindowSteps == 2)
        // Not below the ACK and not inside the second block: an ordinary SACK.
        _ = peer.send(.ack, seq: 1001, ack: ack,
                      options: Recovery.sackOptions([(base &+ 5000, base &+ 6000), (base &+ 8000, base &+ 9000)]))
        #expect(peer.engine.tcpStatistics.duplicateSACKsReceived == 2)
        #expect(Recovery.block(peer, connection)?.scoreboard.sackedBytes == 2000, "D-SACKs are not SACKed data")
    }

    @Test func aDSACKInsideTheSecondBlockIsRecognised() throws {
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, connection, _) = try Recovery.openAndWrite(&peer, listener, bytes: 10 * Recovery.segment, sack: true)
        _ = peer.send(.ack, seq: 1001, ack: base,
                      options: Recovery.sackOptions([(base &+ 3000, base &+ 4000), (base &+ 2000, base &+ 5000)]))
        #expect(peer.engine.tcpStatistics.duplicateSACKsReceived == 1)
        #expect(Recovery.block(peer, connection)?.scoreboard.sackedBytes == 3000)
    }
}

extension DuplicateSACKTests {
    @Test func aRetransmissionFillsItsWholeHoleAndItsSACKBlocksFollowInAnAck() throws {
        // Segment 0 left full-sized (1000 bytes) before we had anything to SACK.
        // Now the peer's data arrives out of order, so our segments leave room for
        // SACK blocks (964 bytes); the fast retransmission of segment 0 is still
        // 1000 bytes, as a 964-byte one would leave a 36-byte hole of its own, and
        // the SACK blocks it had no room for follow at once in a pure ACK.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 10 * Recovery.segment, sack: true)
        #expect(sent.first?.payload.count == Recovery.segment)
        _ = peer.send(.ack, seq: 1011, ack: base, payload: [UInt8](repeating: 3, count: 10))
        var replies: [RawTCPPeer.Reply] = []
        for sacked in 1...3 {
            replies += peer.send(.ack, seq: 1001, ack: base,
                                 options: Recovery.sackOptions([(base &+ 1000, base &+ UInt32(1000 + sacked * 1000))]))
        }
        let resent = try #require(replies.firstIndex { $0.sequence == base && !$0.payload.isEmpty })
        #expect(replies[resent].payload.count == Recovery.segment, "the whole hole")
        #expect(replies[resent].header.options.sackBlocks.isEmpty, "no room beside it")
        let following = replies[(resent + 1)...].first { $0.payload.isEmpty }
        #expect(following.map { Array($0.header.options.sackBlocks) } == [SACKBlock(left: 1011, right: 1021)])
    }
}
