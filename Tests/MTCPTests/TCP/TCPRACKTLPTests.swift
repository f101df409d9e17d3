import Testing
@testable import MTCP

/// RACK-TLP (RFC 8985) with explicit time against a scripted SACK peer whose
/// round trip is `rtt`: segments of 1000 bytes, segment k at `base + k * 1000`.
/// The minimum RTO is 200 ms.
@Suite struct TCPRACKTLPTests {
    typealias Recovery = TCPLossRecoveryTests

    /// A passive open whose handshake took `rtt` (SRTT = rtt), then `bytes` written;
    /// returns the first data sequence number and the segments sent at once.
    static func open(_ peer: inout RawTCPPeer, rtt: TimeSpan, bytes: Int) throws -> (base: UInt32, sent: [UInt32]) {
        let opened = try openConnection(&peer, rtt: rtt, bytes: bytes)
        return (opened.base, opened.sent)
    }

    /// `open`, with the connection's handle.
    static func openConnection(_ peer: inout RawTCPPeer, rtt: TimeSpan, bytes: Int) throws
        -> (base: UInt32, sent: [UInt32], connection: ConnectionID) {
        let listener = try peer.engine.listen(port: 80)
        let synAck = peer.send(.syn, seq: 1000, options: TCPOptions(maximumSegmentSize: 1000, sackPermitted: true))
        let isn = try #require(synAck.first).sequence
        peer.advance(rtt)
        _ = peer.send(.ack, seq: 1001, ack: isn &+ 1)
        let accepted = peer.engine.accept(listener)
        let connection = try #require(accepted)
        #expect((try? seededBytes(bytes, seed: 5).withUnsafeBytes { try peer.engine.write(connection, $0) }) == bytes)
        let base = isn &+ 1
        return (base, peer.run().filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 }, connection)
    }

    /// Advances 1 ms at a time for up to `limit`; returns the first segment with
    /// data the engine sent and when, relative to the start.
    static func nextData(_ peer: inout RawTCPPeer, limit: TimeSpan = .seconds(2))
        -> (segment: RawTCPPeer.Reply, after: TimeSpan)? {
        let start = peer.now
        while peer.now.since(start) < limit {
            peer.advance(.milliseconds(1))
            if let data = peer.run().first(where: { !$0.payload.isEmpty }) { return (data, peer.now.since(start)) }
        }
        return nil
    }

    @Test func lastSegmentOfA4KiBResponseIsRecoveredByAProbe() throws {
        // RFC 8985 §7: the last two segments of a response are lost and no ACK
        // will come to reveal it; the probe resends the last MSS after 2 SRTT plus
        // the 2-ms floor: 10 + 10 + 2 ms after the ACK of the rest, instead of
        // the 200-ms RTO.
        var peer = Recovery.peer()
        let (base, sent) = try Self.open(&peer, rtt: .milliseconds(10), bytes: 4096)
        #expect(sent == [0, 1, 2, 3, 4])
        peer.advance(.milliseconds(10))
        _ = peer.send(.ack, seq: 1001, ack: base &+ 3000)
        let probeSent = Self.nextData(&peer)
        let probe = try #require(probeSent)
        #expect(probe.segment.sequence == base &+ 3096 && probe.segment.payload.count == 1000, "the last MSS sent")
        #expect(probe.after == .milliseconds(22), "PTO = 2 SRTT + 2 ms")
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4096)
        let statistics = peer.engine.tcpStatistics
        #expect(statistics.tlpProbes == 1 && statistics.timeouts == 0)
        #expect(statistics.tlpRecoveries == 0, "the probe's own ACK cannot tell a repair from a needless copy")
    }

    @Test func lostProbeLeavesTheRepairToTheRTO() throws {
        // RFC 8985 §7.3: one probe per episode; when it is lost too the RTO,
        // armed when the probe left, resends the tail.
        var peer = Recovery.peer()
        let (base, _) = try Self.open(&peer, rtt: .milliseconds(10), bytes: 4096)
        peer.advance(.milliseconds(10))
        _ = peer.send(.ack, seq: 1001, ack: base &+ 3000)
        let probeSent = Self.nextData(&peer)
        let probe = try #require(probeSent)
        #expect(probe.segment.sequence == base &+ 3096)
        let timeoutSent = Self.nextData(&peer)
        let timeout = try #require(timeoutSent)
        #expect(timeout.segment.sequence == base &+ 3000)
        #expect(timeout.after == .milliseconds(200), "the RTO after the probe, no second probe")
        let statistics = peer.engine.tcpStatistics
        #expect(statistics.tlpProbes == 1 && statistics.timeouts == 1 && statistics.tlpRecoveries == 0)
    }

    @Test func probeSendsNewDataWhenThereIsSome() throws {
        // RFC 8985 §7.3: new data the peer's window takes makes the better probe
        // (it repeats nothing that may have arrived). IW10 holds back two of twelve
        // segments; nothing is acknowledged: after 2 SRTT segment 10 goes out.
        var peer = Recovery.peer()
        let (base, sent) = try Self.open(&peer, rtt: .milliseconds(10), bytes: 12 * Recovery.segment)
        #expect(sent.count == 10)
        let probeSent = Self.nextData(&peer)
        let probe = try #require(probeSent)
        #expect(probe.segment.sequence == base &+ 10_000)
        #expect(probe.after == .milliseconds(22), "PTO = 2 SRTT + 2 ms with ten segments in flight")
        #expect(peer.engine.tcpStatistics.tlpProbes == 1 && peer.engine.tcpStatistics.retransmittedSegments == 0)
    }

    @Test func newDataAnAckClocksOutIsCoveredByAProbe() throws {
        // RFC 8985 §7.2: the PTO restarts when new data is sent. IW10 sends ten
        // of twelve segments; the ACK of nine leaves one in flight when it sets
        // the timer (a lone segment's PTO, with the delayed-ACK allowance, lies
        // past the RTO), then clocks out segments 10 and 11. Nothing more is
        // acknowledged (three segments, or their ACKs, lost): the probe resends
        // the last segment 2 SRTT + 2 ms after they left, not the RTO 200 ms
        // later. On the 10%-loss echo this case was a third of the timeouts.
        var peer = Recovery.peer()
        let (base, sent) = try Self.open(&peer, rtt: .milliseconds(10), bytes: 12 * Recovery.segment)
        #expect(sent.count == 10)
        peer.advance(.milliseconds(10))
        let clocked = peer.send(.ack, seq: 1001, ack: base &+ 9000).filter { !$0.payload.isEmpty }
        #expect(clocked.map { ($0.sequence &- base) / 1000 } == [10, 11])
        let probeSent = Self.nextData(&peer)
        let probe = try #require(probeSent)
        #expect(probe.segment.sequence == base &+ 11_000, "the last segment sent")
        #expect(probe.after == .milliseconds(22), "PTO = 2 SRTT + 2 ms from when segments 10 and 11 left")
        #expect(peer.engine.tcpStatistics.tlpProbes == 1 && peer.engine.tcpStatistics.timeouts == 0)
    }

    @Test(arguments: [5, 15])
    func reorderingWithinTheWindowIsNotLoss(lateBy milliseconds: Int) throws {
        // RFC 8985 §6.2: a segment SACKed above SND.UNA marks SND.UNA lost only
        // once the reordering window (SRTT/4 = 10 ms here) has passed; a segment
        // arriving late within it is no loss and nothing is resent.
        var peer = Recovery.peer()
        let (base, sent) = try Self.open(&peer, rtt: .milliseconds(40), bytes: 4 * Recovery.segment)
        #expect(sent == [0, 1, 2, 3])
        peer.advance(.milliseconds(40))
        _ = peer.send(.ack, seq: 1001, ack: base, options: Recovery.sackOptions([(base &+ 1000, base &+ 2000)]))
        var resent: [UInt32] = []
        for _ in 0..<milliseconds {
            peer.advance(.milliseconds(1))
            resent += peer.run().filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 }
        }
        _ = peer.send(.ack, seq: 1001, ack: base &+ 4000)
        let statistics = peer.engine.tcpStatistics
        if milliseconds < 10 {
            #expect(resent.isEmpty && statistics.rackMarkedLost == 0 && statistics.fastRetransmits == 0)
        } else {
            #expect(resent == [0], "segment 0 resent once the window passed")
            #expect(statistics.rackMarkedLost == 1 && statistics.fastRetransmits == 1)
        }
        #expect(statistics.timeouts == 0)
    }

    @Test func sackHoleIsRetransmittedOnce() throws {
        // RFC 6675 §5: a hole is resent once per recovery (HighRxt), however many
        // duplicate ACKs still report it; only the RTO may resend it again.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 20 * Recovery.segment, sack: true)
        #expect(sent.count == 10)
        var resentHole = 0
        for sacked in 2...9 {
            let replies = peer.send(.ack, seq: 1001, ack: base &+ 1000,
                                    options: Recovery.sackOptions([(base &+ 2000, base &+ UInt32(sacked * 1000 + 1000))]))
            resentHole += replies.filter { $0.sequence == base &+ 1000 && !$0.payload.isEmpty }.count
        }
        #expect(resentHole == 1)
        #expect(peer.engine.tcpStatistics.timeouts == 0)
    }
}

/// RFC 6675 beyond the basic hole retransmission: the rescue retransmission and
/// the scoreboard across a timeout.
@Suite struct TCPSACKRecoveryTests {
    typealias Recovery = TCPLossRecoveryTests

    /// Advances 1 ms at a time, sending nothing, until the RTO has fired once.
    static func runUntilTheFirstTimeout(_ peer: inout RawTCPPeer) {
        var waited = 0
        while peer.engine.tcpStatistics.timeouts == 0 && waited < 3000 {
            peer.advance(.milliseconds(1))
            _ = peer.run()
            waited += 1
        }
        #expect(peer.engine.tcpStatistics.timeouts == 1)
    }

    @Test func tailOfTheWindowGetsARescueRetransmission() throws {
        // RFC 6675 §4 NextSeg (4): segments 0 and 9 of 10 are lost; SACKs of 1-8
        // leave no hole but 0 and no new data, so once pipe allows, segment 9 (above
        // the highest SACK) is resent once instead of waiting for the RTO.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 10 * Recovery.segment, sack: true)
        #expect(sent.count == 10)
        var resent: [UInt32] = []
        for sacked in 1...8 {
            let replies = peer.send(.ack, seq: 1001, ack: base,
                                    options: Recovery.sackOptions([(base &+ 1000, base &+ UInt32(1000 + sacked * 1000))]))
            resent += replies.filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 }
        }
        #expect(resent == [0, 9], "the hole, then the rescue of the tail")
        #expect(peer.engine.tcpStatistics.timeouts == 0)
    }

    @Test func theRescueOfAShortTailResendsNoSACKedByte() throws {
        // Segments 0 and 9 of 10 lost, the last one 500 bytes, 1-8 SACKed in one
        // ACK: the rescue resends those 500 bytes, not a full segment ending at
        // SND.MAX (its first half SACKed).
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, _, sent) = try Recovery.openAndWrite(&peer, listener, bytes: 9 * Recovery.segment + 500, sack: true)
        #expect(sent.count == 10)
        let replies = peer.send(.ack, seq: 1001, ack: base, options: Recovery.sackOptions([(base &+ 1000, base &+ 9000)]))
        let resent = replies.filter { !$0.payload.isEmpty }.map { (offset: $0.sequence &- base, length: $0.payload.count) }
        #expect(resent.map(\.offset) == [0, 9000], "the hole, then the rescue of the tail")
        #expect(resent.last?.length == 500)
    }

    @Test func scoreboardOutlivesATimeoutUntilTheReceiverReneges() throws {
        // RFC 6675 §5.1 and RFC 2018 §8: the SACKs of 1-3 survive the timeout that
        // resends segment 0. The next ACK covers 0 but stops at 1, the start of
        // a SACKed range: the receiver discarded it, the scoreboard goes and
        // segment 1 is resent rather than skipped.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, connection, _) = try Recovery.openAndWrite(&peer, listener, bytes: 10 * Recovery.segment, sack: true)
        for sacked in 1...3 {
            _ = peer.send(.ack, seq: 1001, ack: base,
                          options: Recovery.sackOptions([(base &+ 1000, base &+ UInt32(1000 + sacked * 1000))]))
        }
        #expect(peer.engine.tcpStatistics.fastRetransmits == 1)
        #expect(Recovery.timeUntilSent(&peer, sequence: base) != nil, "the fast retransmission was lost: the head probe")
        #expect(peer.engine.tcpStatistics.tlpProbes == 1)
        #expect(Recovery.timeUntilSent(&peer, sequence: base) != nil, "and so was the probe: the RTO")
        #expect(peer.engine.tcpStatistics.timeouts == 1)
        #expect(Recovery.block(peer, connection)?.scoreboard.sackedBytes == 3000, "kept across the timeout")
        let replies = peer.send(.ack, seq: 1001, ack: base &+ 1000)
        #expect(Recovery.block(peer, connection)?.scoreboard.isEmpty == true, "reneging cleared it")
        #expect(replies.first { !$0.payload.isEmpty }?.sequence == base &+ 1000)
    }
}

extension TCPRACKTLPTests {
    @Test func lostRetransmissionOfSNDUNAIsResentWhenLaterDataIsSACKed() throws {
        // RFC 8985 §6.2: the fast retransmission of segment 0 is lost too. Limited
        // transmit sends 10 and 11, the third duplicate resends 0 (SND.MAX 12),
        // recovery sends 12-14. Once segment 12, sent after the retransmission, is
        // SACKed and SRTT + reo_wnd (10 + 2.5 ms) have passed, segment 0 goes again
        // instead of waiting for the RTO.
        var peer = Recovery.peer()
        let (base, sent) = try Self.open(&peer, rtt: .milliseconds(10), bytes: 20 * Recovery.segment)
        #expect(sent.count == 10)
        func duplicate(_ through: Int) -> [UInt32] {
            peer.send(.ack, seq: 1001, ack: base, options: Recovery.sackOptions([(base &+ 1000, base &+ UInt32(through * 1000))]))
                .filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 }
        }
        var resent: [UInt32] = []
        for through in 2...10 { resent += duplicate(through) }
        #expect(resent == [10, 11, 0, 12, 13, 14])
        peer.advance(.milliseconds(5))
        #expect(duplicate(13).first != 0, "not before SRTT + reo_wnd")
        peer.advance(.milliseconds(8))
        #expect(duplicate(13).first == 0, "resent 13 ms after the first retransmission")
        #expect(peer.engine.tcpStatistics.rackMarkedLost == 1 && peer.engine.tcpStatistics.timeouts == 0)
    }
}

extension TCPSACKRecoveryTests {
    /// RFC 8985 §6.2 for a hole above SND.UNA: segments 0, 2 and 4 are lost;
    /// recovery resends all three (at one instant) and new data after them.
    /// Segment 0's copy is still on its way (SND.UNA stays 0), 4's arrives, 2's
    /// copy is lost: 2 goes again SRTT + reo_wnd after its first copy, not after
    /// 0 is repaired and not at the RTO. What shows 2 overtaken is new data sent
    /// after it SACKed, or 4's copy alone, resent at the same instant but after
    /// 2 in sequence (RACK_sent_after).
    @Test(arguments: [true, false])
    func lostRetransmissionOfAHoleAboveSNDUNAIsResentWithoutWaitingForTheHead(newDataSACKed: Bool) throws {
        var peer = Recovery.peer()
        let (base, sent) = try TCPRACKTLPTests.open(&peer, rtt: .milliseconds(10), bytes: 20 * Recovery.segment)
        #expect(sent.count == 10)
        func sack(_ blocks: [(Int, Int)]) -> [UInt32] {
            peer.send(.ack, seq: 1001, ack: base,
                      options: Recovery.sackOptions(blocks.map { (base &+ UInt32($0.0 * 1000), base &+ UInt32($0.1 * 1000)) }))
                .filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 }
        }
        var resent = sack([(1, 2)])
        resent += sack([(1, 2), (3, 4)])
        resent += sack([(1, 2), (3, 4), (5, 10)])
        #expect(resent.prefix(5) == [10, 11, 0, 2, 4], "limited transmit, then the three holes")
        let newData = try #require(resent.dropFirst(5).first)
        peer.advance(.milliseconds(5))
        let reported = newDataSACKed ? [(1, 2), (3, Int(newData) + 1)] : [(1, 2), (3, 10)]
        #expect(!sack(reported).contains(2), "not before SRTT + reo_wnd")
        var resends: [TimeSpan] = []
        for elapsed in 6...30 {
            peer.advance(.milliseconds(1))
            if peer.run().contains(where: { $0.sequence == base &+ 2000 && !$0.payload.isEmpty }) {
                resends.append(.milliseconds(UInt64(elapsed)))
            }
        }
        let first = try #require(resends.first, "segment 2 resent within 30 ms")
        #expect(first >= .milliseconds(12) && first <= .milliseconds(14),
                "SRTT (10 ms) + reo_wnd (2.5 ms) after its first copy")
        #expect(resends.count == 1, "once: its new copy is timed anew")
        #expect(peer.engine.tcpStatistics.timeouts == 0)
    }

    @Test func subMSSHoleAfterATimeoutGoesWithoutAnotherTimeout() throws {
        // Twenty 100-byte writes; segments 0-9 and 11 are lost, 10 and 12-19
        // SACKed, and the retransmissions of recovery are lost too. The RTO
        // resends 0-9 as one MSS; once the peer acknowledges through 10, the hole
        // at 11 (100 bytes, less than an MSS) is a retransmission: sender SWS
        // avoidance must not hold it for the next, backed-off, timeout.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (base, connection, _) = try Recovery.openAndWrite(&peer, listener, bytes: 100, sack: true)
        for write in 1..<20 {
            #expect((try? seededBytes(100, seed: UInt64(write)).withUnsafeBytes { try peer.engine.write(connection, $0) }) == 100)
            _ = peer.run()
        }
        let sacks = Recovery.sackOptions([(base &+ 1000, base &+ 1100), (base &+ 1200, base &+ 2000)])
        _ = peer.send(.ack, seq: 1001, ack: base, options: sacks)
        Self.runUntilTheFirstTimeout(&peer)
        let replies = peer.send(.ack, seq: 1001, ack: base &+ 1100,
                                options: Recovery.sackOptions([(base &+ 1200, base &+ 2000)]))
        let resent = replies.contains { $0.sequence == base &+ 1100 && !$0.payload.isEmpty }
            || Recovery.timeUntilSent(&peer, sequence: base &+ 1100, limit: .milliseconds(100)) != nil
        #expect(resent, "the second hole goes on the ACK, not at the next timeout")
        #expect(peer.engine.tcpStatistics.timeouts == 1)
    }
}

extension TCPRACKTLPTests {
    @Test func cumulativeAckLeavingSACKedDataAboveAHoleRunsRACK() throws {
        // RFC 8985 §6.2: an ACK of segment 0 that SACKs 2 leaves a hole at 1 with
        // delivered data above it. RACK marks 1 lost after the reordering window
        // (SRTT/4 = 10 ms) and resends it; no tail loss probe resends the tail
        // (Linux probes only with no SACKed data outstanding).
        var peer = Recovery.peer()
        let (base, sent) = try Self.open(&peer, rtt: .milliseconds(40), bytes: 4 * Recovery.segment)
        #expect(sent == [0, 1, 2, 3])
        peer.advance(.milliseconds(40))
        _ = peer.send(.ack, seq: 1001, ack: base &+ 1000, options: Recovery.sackOptions([(base &+ 2000, base &+ 3000)]))
        let firstSent = Self.nextData(&peer)
        let first = try #require(firstSent)
        #expect(first.segment.sequence == base &+ 1000, "the hole, not the tail")
        #expect(first.after == .milliseconds(10))
        #expect(peer.engine.tcpStatistics.tlpProbes == 0 && peer.engine.tcpStatistics.rackMarkedLost == 1)
    }
}

extension TCPSACKRecoveryTests {
    @Test func fastRecoveryAfterATimeoutResendsOnlyBelowSNDNXT() throws {
        // Twenty segments in flight (k = 0...19 here); 0, 1 and 10-15 are lost,
        // 2-9 and 16-19 SACKed, the fast retransmission of 0 is lost, the RTO
        // resends it and its ACK lets 1 go. A late original of 12 is SACKed and
        // starts fast recovery: holes above SND.NXT are left to the send path,
        // in cwnd, and no segment leaves twice.
        var peer = Recovery.peer()
        let listener = try peer.engine.listen(port: 80)
        let (first, connection, _) = try Recovery.openAndWrite(&peer, listener, bytes: 30 * Recovery.segment, sack: true)
        _ = Recovery.growToTwentySegmentsInFlight(&peer, base: first)
        let base = first &+ 10_000
        func at(_ k: UInt32) -> UInt32 { base &+ k * 1000 }
        _ = peer.send(.ack, seq: 1001, ack: at(0), options: Recovery.sackOptions([(at(2), at(10)), (at(16), at(20))]))
        #expect(peer.engine.tcpStatistics.fastRetransmits == 1)
        Self.runUntilTheFirstTimeout(&peer)
        _ = peer.send(.ack, seq: 1001, ack: at(1), options: Recovery.sackOptions([(at(2), at(10)), (at(16), at(20))]))
        let cwnd = Recovery.block(peer, connection)?.congestion.cwnd ?? 0
        let replies = peer.send(.ack, seq: 1001, ack: at(1),
                                options: Recovery.sackOptions([(at(12), at(13)), (at(2), at(10)), (at(16), at(20))]))
        let sent = replies.filter { !$0.payload.isEmpty }.map { ($0.sequence &- base) / 1000 }
        #expect(Set(sent).count == sent.count, "no segment twice: \(sent)")
        #expect(sent.count * Recovery.segment <= cwnd, "within cwnd \(cwnd): \(sent)")
    }
}

