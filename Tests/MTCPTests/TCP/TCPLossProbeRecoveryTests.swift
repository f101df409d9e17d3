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
