import Testing
@testable import MTCP

/// The tail loss probe's timeout (RFC 8985 §7.2) on a path whose round trip
/// rounds to 0 ms: timestamps measure whole milliseconds, so SRTT decays to 0.
@Suite struct TCPLossProbeTimingTests {
    typealias Recovery = TCPLossRecoveryTests

    /// A passive open with SACK and timestamps whose handshake took `rtt`.
    static func openWithTimestamps(_ peer: inout RawTCPPeer, rtt: TimeSpan = .zero) throws -> (base: UInt32, connection: ConnectionID) {
        let listener = try peer.engine.listen(port: 80)
        let synAck = peer.send(.syn, seq: 1000, options: TCPOptions(
            maximumSegmentSize: 1000, sackPermitted: true, timestamp: TCPTimestamp(value: 1, echoReply: 0)))
        let reply = try #require(synAck.first)
        let echo = try #require(reply.header.options.timestamp).value
        peer.advance(rtt)
        _ = peer.send(.ack, seq: 1001, ack: reply.sequence &+ 1,
                      options: TCPOptions(timestamp: TCPTimestamp(value: 2, echoReply: echo)))
        let accepted = peer.engine.accept(listener)
        return (reply.sequence &+ 1, try #require(accepted))
    }

    @Test func delayedAckOfAOneSegmentResponseTakesNoProbeNorCut() throws {
        // One segment in flight: the PTO includes the worst-case delayed-ACK
        // allowance, so the peer's 40-ms delayed ACK arrives first; no probe is
        // resent and the congestion window stays as it was.
        var peer = Recovery.peer()
        let (base, connection) = try Self.openWithTimestamps(&peer)
        let cwndBefore = Recovery.block(peer, connection)?.congestion.cwnd ?? 0
        #expect((try? seededBytes(500, seed: 5).withUnsafeBytes { try peer.engine.write(connection, $0) }) == 500)
        let response = peer.run().filter { !$0.payload.isEmpty }
        let sent = try #require(response.first)
        #expect(response.count == 1 && sent.sequence == base)
        let tsval = try #require(sent.header.options.timestamp).value
        var resent = 0
        for _ in 0..<40 {
            peer.advance(.milliseconds(1))
            resent += peer.run().filter { !$0.payload.isEmpty }.count
        }
        _ = peer.send(.ack, seq: 1001, ack: base &+ 500,
                      options: TCPOptions(timestamp: TCPTimestamp(value: 3, echoReply: tsval)))
        #expect(resent == 0, "no probe before the delayed ACK")
        #expect(peer.engine.tcpStatistics.tlpProbes == 0)
        let cwndAfter = Recovery.block(peer, connection)?.congestion.cwnd ?? 0
        #expect(cwndBefore > 0 && cwndAfter >= cwndBefore, "no window reduction")
    }

    /// Advances 1 ms at a time until the engine sends a FIN at `sequence`;
    /// returns how many milliseconds that took.
    static func millisecondsUntilFIN(_ peer: inout RawTCPPeer, at sequence: UInt32, limit: Int = 400) -> Int? {
        for millisecond in 1...limit {
            peer.advance(.milliseconds(1))
            if peer.run().contains(where: { $0.sequence == sequence && $0.header.flags.contains(.fin) }) {
                return millisecond
            }
        }
        return nil
    }

    /// Writes `count` bytes and returns the TSval of the segment that carried
    /// them, sent at once without a FIN.
    static func writeWithoutFIN(_ peer: inout RawTCPPeer, _ connection: ConnectionID, _ count: Int, seed: UInt64)
        throws -> UInt32 {
        #expect((try? seededBytes(count, seed: seed).withUnsafeBytes { try peer.engine.write(connection, $0) }) == count)
        let segment = try #require(peer.run().first { !$0.payload.isEmpty })
        #expect(!segment.header.flags.contains(.fin))
        return try #require(segment.header.options.timestamp).value
    }

    /// Closes `connection` and expects a bare FIN at once.
    static func closeWithBareFIN(_ peer: inout RawTCPPeer, _ connection: ConnectionID) {
        peer.engine.close(connection, now: peer.now)
        let fin = peer.run()
        #expect(fin.count == 1 && fin.first?.header.flags.contains(.fin) == true && fin.first?.payload.isEmpty == true)
    }

    @Test func aLostLastSegmentWithTheFINIsProbedAfterTwoRoundTrips() throws {
        // A response and the FIN of a server that closes, in one segment, lost.
        // Its peer is taken to close soon after reading it: not the 200-ms
        // delayed-ACK allowance but 10 ms, so it is probed at 2 SRTT + 10 ms
        // (50 ms on this 20-ms path), not resent at the RTO (200 ms at least).
        var peer = Recovery.peer()
        let (base, connection) = try Self.openWithTimestamps(&peer, rtt: .milliseconds(20))
        #expect((try? seededBytes(500, seed: 7).withUnsafeBytes { try peer.engine.write(connection, $0) }) == 500)
        peer.engine.close(connection, now: peer.now)
        let sent = peer.run().filter { !$0.payload.isEmpty }
        #expect(sent.count == 1 && sent.first?.header.flags.contains(.fin) == true, "the data and the FIN together")
        let after = try #require(Self.millisecondsUntilFIN(&peer, at: base))
        #expect(after >= 48 && after <= 56, "probed after \(after) ms")
        let (probes, timeouts) = (peer.engine.tcpStatistics.tlpProbes, peer.engine.tcpStatistics.timeouts)
        #expect(probes == 1 && timeouts == 0)
    }

    @Test func aLostBareFINWaitsForTheTimeout() throws {
        // An idle connection closed: the FIN alone, lost. Nothing makes the
        // peer answer it soon, so the delayed-ACK allowance stays and the RTO
        // (200 ms, before 2 SRTT + 200 ms) resends it; no probe.
        var peer = Recovery.peer()
        let (base, connection) = try Self.openWithTimestamps(&peer, rtt: .milliseconds(20))
        let tsval = try Self.writeWithoutFIN(&peer, connection, 500, seed: 8)
        _ = peer.send(.ack, seq: 1001, ack: base &+ 500,
                      options: TCPOptions(timestamp: TCPTimestamp(value: 3, echoReply: tsval)))
        Self.closeWithBareFIN(&peer, connection)
        let after = try #require(Self.millisecondsUntilFIN(&peer, at: base &+ 500))
        #expect(after >= 200 && after <= 260, "resent after \(after) ms")
        let (probes, timeouts) = (peer.engine.tcpStatistics.tlpProbes, peer.engine.tcpStatistics.timeouts)
        #expect(probes == 0 && timeouts == 1)
    }

    @Test func aFINLeftAloneByTheACKOfItsDataWaitsForTheTimeout() throws {
        // The data goes, then the FIN by itself; the peer acknowledges the data
        // only, and the FIN is lost. The data no longer outstanding, nothing
        // makes the peer answer soon: the allowance is back, and the RTO
        // (200 ms from that ACK) resends the FIN; no probe.
        var peer = Recovery.peer()
        let (base, connection) = try Self.openWithTimestamps(&peer, rtt: .milliseconds(20))
        let tsval = try Self.writeWithoutFIN(&peer, connection, 500, seed: 9)
        Self.closeWithBareFIN(&peer, connection)
        peer.advance(.milliseconds(20))
        _ = peer.send(.ack, seq: 1001, ack: base &+ 500,
                      options: TCPOptions(timestamp: TCPTimestamp(value: 3, echoReply: tsval)))
        let after = try #require(Self.millisecondsUntilFIN(&peer, at: base &+ 500))
        #expect(after >= 200 && after <= 260, "resent \(after) ms after the ACK")
        let (probes, timeouts) = (peer.engine.tcpStatistics.tlpProbes, peer.engine.tcpStatistics.timeouts)
        #expect(probes == 0 && timeouts == 1)
    }

    @Test func newDataDoesNotPostponeTheTimeout() throws {
        // RFC 6298 §5.1 and RFC 8985 §7.2: segments 0 and 1 get no ACK while the
        // application writes a segment every 80 ms, just before each PTO (2 SRTT
        // + 2 ms = 82 ms). Each send may move the probe, but not past the RTO
        // armed when segment 0 left: something is resent by then (200 ms).
        var peer = Recovery.peer()
        let (base, connection) = try Self.openWithTimestamps(&peer, rtt: .milliseconds(40))
        #expect((try? seededBytes(2000, seed: 6).withUnsafeBytes { try peer.engine.write(connection, $0) }) == 2000)
        _ = peer.run()
        var highest = base &+ 2000
        var firstResent: Int? = nil
        for millisecond in 1...700 where firstResent == nil {
            peer.advance(.milliseconds(1))
            if millisecond % 80 == 0 && millisecond <= 640 {
                _ = try? seededBytes(1000, seed: 6).withUnsafeBytes { try peer.engine.write(connection, $0) }
            }
            for segment in peer.run() where !segment.payload.isEmpty {
                if segment.sequence &- base < highest &- base { firstResent = millisecond }
                highest = max(highest &- base, segment.sequence &- base &+ UInt32(segment.payload.count)) &+ base
            }
        }
        let resentAt = try #require(firstResent)
        #expect(resentAt <= 200, "resent at \(resentAt) ms")
    }
}
