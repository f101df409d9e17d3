import Testing
@testable import MTCP

/// Review (s5): a tail loss probe of new data queued on the data list (the PTO
/// fired while line credit or the transmit ring held the flow back) and still
/// waiting when fast recovery starts is no probe any more. Recovery sends its own
/// new data (RFC 6675 §5 (C)); labelled the probe, its first segment would count
/// a probe never sent, set a probe episode inside recovery and restart the running
/// RTO on a send (RFC 6298 §5.1).
@Suite struct TCPLossProbeRecoveryTests {
    typealias Recovery = TCPLossRecoveryTests
    typealias Probes = TCPRACKTLPTests

    /// A 4 KiB response on a 10 ms path whose last 1096 bytes go unacknowledged
    /// (with our FIN when `closing`): the probe resends the last 1000 at 22 ms
    /// (32 ms with the FIN). Returns the first data sequence number, the
    /// connection and its cwnd before the probe.
    static func probedTail(_ peer: inout RawTCPPeer, closing: Bool = false) throws
        -> (base: UInt32, connection: ConnectionID, cwnd: Int) {
        let (base, _, connection) = try Probes.openConnection(&peer, rtt: .milliseconds(10), bytes: 4096)
        if closing { peer.engine.close(connection, now: peer.now) }
        peer.advance(.milliseconds(10))
        _ = peer.send(.ack, seq: 1001, ack: base &+ 3000)
        let opened = Recovery.block(peer, connection)
        let cwnd = try #require(opened).congestion.cwnd
        let probeSent = Probes.nextData(&peer)
        let probe = try #require(probeSent)
        #expect(probe.segment.sequence == base &+ 3096 && peer.engine.tcpStatistics.tlpProbes == 1)
        return (base, connection, cwnd)
    }

    /// RFC 8985 §7.4.2: the ACK of the resent tail alone cannot tell whether the
    /// original was lost; an ACK beyond the probe with no D-SACK before it shows
    /// the probe repaired a loss: counted, and the window reduced.
    @Test func aProbeRepairedALossWhenAnACKGoesBeyondItWithoutADSACK() throws {
        var peer = Recovery.peer()
        let (base, connection, cwnd) = try Self.probedTail(&peer)
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4096)
        #expect(peer.engine.tcpStatistics.tlpRecoveries == 0)
        let open = Recovery.block(peer, connection)?.lossDetection.probeEnd
        #expect(open == SequenceNumber(base &+ 4096), "still open")
        let written = try? [UInt8](repeating: 7, count: 500).withUnsafeBytes { try peer.engine.write(connection, $0) }
        #expect(written == 500)
        _ = peer.run()
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4596)
        #expect(peer.engine.tcpStatistics.tlpRecoveries == 1)
        let found = Recovery.block(peer, connection)
        let after = try #require(found)
        #expect(after.lossDetection.probeEnd == nil)
        #expect(after.congestion.cwnd < cwnd, "the window reduced as fast recovery would")
    }

    /// The original arrived late after all: the receiver's D-SACK of the second
    /// copy ends the episode with no recovery and the window left alone.
    @Test func aDSACKOfTheProbesCopyShowsItNeedless() throws {
        var peer = Recovery.peer()
        let (base, connection, cwnd) = try Self.probedTail(&peer)
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4096)
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4096, options: Recovery.sackOptions([(base &+ 3096, base &+ 4096)]))
        let found = Recovery.block(peer, connection)
        let after = try #require(found)
        #expect(after.lossDetection.probeEnd == nil)
        #expect(peer.engine.tcpStatistics.tlpRecoveries == 0)
        #expect(after.congestion.cwnd >= cwnd)
    }

    /// A probe that carried our FIN: its copy may be reported without the FIN
    /// (as our receiver does) or with it; a report short of the probe's end
    /// (of another copy) leaves the episode open.
    @Test(arguments: [4096, 4097]) func aDSACKOfAProbeWithOurFINShowsItNeedless(reportEnd: UInt32) throws {
        var peer = Recovery.peer()
        let (base, connection, _) = try Self.probedTail(&peer, closing: true)
        _ = peer.send([.ack], seq: 1001, ack: base &+ 4097)
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4097, options: Recovery.sackOptions([(base &+ 3000, base &+ 3096)]))
        let stillOpen = Recovery.block(peer, connection)?.lossDetection.probeEnd
        #expect(stillOpen == SequenceNumber(base &+ 4097))
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4097, options: Recovery.sackOptions([(base &+ 3096, base &+ reportEnd)]))
        let probeEnd = Recovery.block(peer, connection)?.lossDetection.probeEnd
        #expect(probeEnd == nil)
        #expect(peer.engine.tcpStatistics.tlpRecoveries == 0)
    }

    /// From a receiver without D-SACK: a bare duplicate ACK at the probe's end
    /// (both copies arrived) ends the episode the same way.
    @Test func aBareDuplicateACKAtTheProbesEndShowsItNeedless() throws {
        var peer = Recovery.peer()
        let (base, connection, _) = try Self.probedTail(&peer)
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4096)
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4096)
        let probeEnd = Recovery.block(peer, connection)?.lossDetection.probeEnd
        #expect(probeEnd == nil)
        #expect(peer.engine.tcpStatistics.tlpRecoveries == 0)
    }

    @Test func aQueuedNewDataProbeIsDroppedWhenFastRecoveryStarts() throws {
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, connection, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 30_000, sack: true)
        #expect(sent.filter { !$0.payload.isEmpty }.count == 10)
        func duplicate(sacking through: UInt32) -> [RawTCPPeer.Reply] {
            peer.send(.ack, seq: 1001, ack: base, options: Recovery.sackOptions([(base &+ 1000, base &+ (through + 1) * 1000)]))
        }
        // Two duplicates: limited transmit, no recovery yet.
        var before = sent + duplicate(sacking: 1) + duplicate(sacking: 2)
        // The PTO queued a probe of new data that has not left yet.
        peer.engine.tcp.connections.block(connection)?.pointee.lossDetection.newDataProbeQueued = true
        before += duplicate(sacking: 3)
        let highest = before.filter { !$0.payload.isEmpty }.map { $0.sequence &- base + UInt32($0.payload.count) }.max() ?? 0
        let found = Recovery.block(peer, connection)
        let block = try #require(found)
        guard case .fast = block.recovery else {
            Issue.record("the third duplicate starts fast recovery")
            return
        }
        let timeoutAt = block.lossDetection.timeoutAt
        peer.advance(.milliseconds(1))
        // SACKs of the rest of the flight let recovery send new data.
        var newData = 0
        for through in UInt32(4)...9 {
            newData += duplicate(sacking: through).filter { !$0.payload.isEmpty && $0.sequence &- base >= highest }.count
        }
        #expect(newData > 0, "recovery sent new data")
        let foundAfter = Recovery.block(peer, connection)
        let after = try #require(foundAfter)
        #expect(peer.engine.tcpStatistics.tlpProbes == 0)
        #expect(after.lossDetection.probeEnd == nil)
        #expect(after.lossDetection.newDataProbeQueued == false)
        #expect(after.lossDetection.timeoutAt == timeoutAt, "the running RTO is not restarted")
    }
}
