import Testing
@testable import MTCP

/// State by state, with template segments and explicit time, in the manner of
/// smoltcp's socket tests. Each test names the RFC clause it checks.
@Suite struct TCPStateTests {
    @Test func synToClosedPortGetsResetAcknowledgingIt() {
        // RFC 9293 §3.10.7.1: no ACK in the segment -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        var peer = RawTCPPeer()
        let replies = peer.send(.syn, seq: 5000, to: 81)
        #expect(replies.count == 1)
        #expect(replies.first?.flags == [.rst, .ack])
        #expect(replies.first?.sequence == 0)
        #expect(replies.first?.acknowledgment == 5001)
        // With an ACK in it: <SEQ=SEG.ACK><CTL=RST>.
        let second = peer.send(.ack, seq: 5001, ack: 777, to: 81)
        #expect(second.first?.flags == .rst)
        #expect(second.first?.sequence == 777)
        // A reset is never answered.
        let result1 = peer.send(.rst, seq: 1, to: 81)
        #expect(result1.isEmpty)
    }

    @Test func synAckCarriesNegotiatedOptions() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, receiveBufferSize: 256 * 1024))
        _ = try peer.engine.listen(port: 80)
        let offer = TCPOptions(maximumSegmentSize: 1400, windowScale: 7, sackPermitted: true,
                               timestamp: TCPTimestamp(value: 4242, echoReply: 0))
        let replies = peer.send(.syn, seq: 100, options: offer)
        let synAck = try #require(replies.first)
        #expect(synAck.flags == [.syn, .ack])
        #expect(synAck.acknowledgment == 101)
        #expect(synAck.header.options.maximumSegmentSize == 1460)
        #expect(synAck.header.options.windowScale == 3, "262144 >> 2 is 65536, one more than fits (RFC 7323 §2.3)")
        #expect(synAck.header.options.sackPermitted)
        #expect(synAck.header.options.timestamp?.echoReply == 4242)
        // Without the peer's offers, none of them come back (RFC 7323 §1.3, RFC 2018 §2).
        peer.peerPort += 1
        let plain = try #require(peer.send(.syn, seq: 100).first)
        #expect(plain.header.options.windowScale == nil)
        #expect(!plain.header.options.sackPermitted)
        #expect(plain.header.options.timestamp == nil)
    }

    @Test func handshakeCompletesAndDataIsAcknowledged() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let handshake101 = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake101)
        #expect(peer.engine.state(of: connection) == .established)
        let replies = peer.send([.ack, .psh], seq: 1001, ack: isn + 1, payload: Array("GET".utf8))
        #expect(replies.last?.acknowledgment == 1004)
        #expect(peer.engine.readableBytes(connection) == 3)
    }

    @Test func delayedAckWaitsThenFires() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: .milliseconds(40),
                                                    quickAcks: 0))
        let listener = try peer.engine.listen(port: 80)
        let result2 = peer.establish(listener: listener)
        let (isn, _) = try #require(result2)
        #expect(peer.send([.ack, .psh], seq: 1001, ack: isn + 1, payload: [1, 2, 3]).isEmpty,
                "one small segment: the ACK is delayed (RFC 1122 §4.2.3.2)")
        peer.advance(.milliseconds(39))
        let result3 = peer.run()
        #expect(result3.isEmpty)
        peer.advance(.milliseconds(2))
        let result4 = peer.run()
        #expect(result4.first?.acknowledgment == 1004)
        // Two full-sized segments are acknowledged at once (RFC 5681 §4.2).
        let full = [UInt8](repeating: 7, count: 1460)
        #expect(peer.send(.ack, seq: 1004, ack: isn + 1, payload: full).isEmpty)
        let result5 = peer.send(.ack, seq: 1004 + 1460, ack: isn + 1, payload: full)
        #expect(result5.count == 1)
        #expect(result5.last?.acknowledgment == UInt32(1004 + 2920), "\(result5.map(\.header))")
    }

    @Test func firstSegmentsAreAcknowledgedAtOnceThenDelayed() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: .milliseconds(40),
                                                    quickAcks: 2))
        let listener = try peer.engine.listen(port: 80)
        let result = peer.establish(listener: listener)
        let (isn, _) = try #require(result)
        let first = peer.send([.ack, .psh], seq: 1001, ack: isn + 1, payload: [1])
        #expect(first.first?.acknowledgment == 1002, "quick-ACK mode: the first segment is acknowledged at once")
        let second = peer.send([.ack, .psh], seq: 1002, ack: isn + 1, payload: [2])
        #expect(second.first?.acknowledgment == 1003)
        #expect(peer.send([.ack, .psh], seq: 1003, ack: isn + 1, payload: [3]).isEmpty,
                "after the quick ACKs, a lone small segment waits for the delayed-ACK timer")
    }

    @Test func resetInWindowButNotExactGetsChallengeAck() throws {
        // RFC 5961 §3.2.
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        let handshake102 = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake102)
        let challenge = peer.send(.rst, seq: 1001 + 100)
        #expect(challenge.count == 1)
        #expect(challenge.first?.flags == .ack)
        #expect(challenge.first?.acknowledgment == 1001)
        #expect(peer.engine.state(of: connection) == .established)
        #expect(peer.engine.tcpStatistics.challengeAcksSent == 1)
        // Out of the window entirely: dropped (only an ACK of the window edge).
        _ = peer.send(.rst, seq: 1001 &+ 1_000_000)
        #expect(peer.engine.state(of: connection) == .established)
        // Exactly RCV.NXT: the connection is reset.
        #expect(peer.send(.rst, seq: 1001).isEmpty)
        #expect(peer.engine.state(of: connection) == .closed)
        #expect(peer.engine.error(of: connection) == .connectionReset)
        let event = peer.engine.nextEvent()
        #expect(event?.0 == connection && event?.1.contains(.error) == true)
        _ = isn
    }

    @Test func synOnEstablishedConnectionGetsChallengeAck() throws {
        // RFC 5961 §4.2.
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        let handshake103 = peer.establish(listener: listener)
        let (_, connection) = try #require(handshake103)
        let replies = peer.send(.syn, seq: 1001 + 10)
        #expect(replies.count == 1 && replies.first?.flags == .ack && replies.first?.acknowledgment == 1001)
        #expect(peer.engine.state(of: connection) == .established)
    }

    @Test func ackOfUnsentDataGetsChallengeAck() throws {
        // RFC 5961 §5.2: SEG.ACK > SND.NXT.
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        let handshake104 = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake104)
        let replies = peer.send(.ack, seq: 1001, ack: isn + 5000)
        #expect(replies.first?.flags == .ack)
        #expect(peer.engine.state(of: connection) == .established)
    }

    @Test func outOfWindowDataIsAnsweredWithAnAckAndDropped() throws {
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        let handshake105 = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake105)
        let replies = peer.send(.ack, seq: 1001 + 100_000, ack: isn + 1, payload: [1])
        #expect(replies.first?.acknowledgment == 1001)
        #expect(peer.engine.readableBytes(connection) == 0)
        #expect(peer.engine.tcpStatistics.outOfWindow == 1)
    }

    @Test func outOfOrderSegmentIsAcknowledgedAtOnceWithSACK() throws {
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        let options = TCPOptions(maximumSegmentSize: 1460, sackPermitted: true)
        let handshake106 = peer.establish(listener: listener, options: options)
        let (isn, connection) = try #require(handshake106)
        // Bytes 1011..<1021 arrive before 1001..<1011.
        let replies = peer.send(.ack, seq: 1011, ack: isn + 1, payload: [UInt8](repeating: 2, count: 10))
        let ack = try #require(replies.first)
        #expect(ack.acknowledgment == 1001, "duplicate ACK for the hole (RFC 5681 §4.2)")
        #expect(Array(ack.header.options.sackBlocks) == [SACKBlock(left: 1011, right: 1021)], "RFC 2018 §4")
        let filled = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 10))
        #expect(filled.first?.acknowledgment == 1021, "filling the hole is acknowledged at once")
        #expect(filled.first?.header.options.sackBlocks.isEmpty == true)
        #expect(peer.engine.readableBytes(connection) == 20)
    }

    @Test func finMovesToCloseWaitAndCloseSendsFinThenLastAck() throws {
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        let handshake107 = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake107)
        let ack = peer.send([.fin, .ack], seq: 1001, ack: isn + 1)
        #expect(ack.first?.acknowledgment == 1002)
        #expect(peer.engine.state(of: connection) == .closeWait)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
        defer { scratch.deallocate() }
        #expect((try? peer.engine.read(connection, into: scratch, now: peer.now)) == 0, "end of stream")
        peer.engine.close(connection, now: peer.now)
        let fin = peer.run()
        #expect(fin.first?.flags == [.fin, .ack])
        #expect(fin.first?.sequence == isn + 1)
        let result6 = peer.send(.ack, seq: 1002, ack: isn + 2)
        #expect(result6.isEmpty)
        #expect(peer.engine.connectionCount == 0, "LAST-ACK acknowledged: the connection is gone")
    }

    @Test func synAckIsRetransmittedWithBackoffThenGivenUp() throws {
        // RFC 6298 §5.5: the timer doubles after each expiry.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, maximumSYNRetransmissions: 3))
        _ = try peer.engine.listen(port: 80)
        #expect(peer.send(.syn, seq: 1).count == 1)
        var times: [UInt64] = []
        for _ in 0..<20_000 {
            peer.advance(.milliseconds(1))
            if peer.run().contains(where: { $0.flags == [.syn, .ack] }) {
                times.append(peer.now.nanoseconds / 1_000_000)
            }
        }
        #expect(times.count == 3)
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        // 1 s, then 2 s, then 4 s, each within one 1-ms tick of the wheel.
        #expect(times.first.map { (1000...1001).contains($0) } == true, "\(times)")
        #expect(gaps.count == 2 && (2000...2001).contains(gaps[0]) && (4000...4001).contains(gaps[1]), "\(times)")
        #expect(peer.engine.connectionCount == 0)
        #expect(peer.engine.tcpStatistics.timeouts == 1)
    }

    @Test func pawsDropsSegmentsWithOldTimestamps() throws {
        // RFC 7323 §5.3.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let offer = TCPOptions(maximumSegmentSize: 1460, timestamp: TCPTimestamp(value: 1000, echoReply: 0))
        let handshake108 = peer.establish(listener: listener, options: offer)
        let (isn, connection) = try #require(handshake108)
        var newer = TCPOptions()
        newer.timestamp = TCPTimestamp(value: 2000, echoReply: 0)
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, options: newer, payload: [1])
        var older = TCPOptions()
        older.timestamp = TCPTimestamp(value: 1500, echoReply: 0)
        let replies = peer.send(.ack, seq: 1002, ack: isn + 1, options: older, payload: [2])
        #expect(replies.first?.acknowledgment == 1002, "dropped, and acknowledged as a duplicate")
        #expect(peer.engine.readableBytes(connection) == 1)
        #expect(peer.engine.tcpStatistics.pawsRejected == 1)
    }

    @Test func synCookiesWhenTheSynQueueIsFull() throws {
        // RFC 4987 §3.6.
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80, backlog: 1)
        #expect(peer.send(.syn, seq: 10).first?.flags == [.syn, .ack])  // fills the SYN queue
        peer.peerPort = 40001
        let options = TCPOptions(maximumSegmentSize: 1460, windowScale: 7, sackPermitted: true)
        let cookie = try #require(peer.send(.syn, seq: 5000, options: options).first)
        #expect(cookie.flags == [.syn, .ack])
        #expect(cookie.header.options.windowScale == nil, "a cookie cannot carry window scaling")
        #expect(peer.engine.connectionCount == 1, "no state kept for the cookie")
        #expect(peer.engine.tcpStatistics.synCookiesSent == 1)
        // A forged ACK is refused with a reset.
        peer.peerPort = 40002
        #expect(peer.send(.ack, seq: 5001, ack: cookie.sequence &+ 1).first?.flags == .rst)
        // The genuine ACK builds the connection.
        peer.peerPort = 40001
        #expect(peer.send(.ack, seq: 5001, ack: cookie.sequence &+ 1, payload: [9]).first?.flags != .rst)
        let accepted = peer.engine.accept(listener)
        let connection = try #require(accepted)
        #expect(peer.engine.state(of: connection) == .established)
        #expect(peer.engine.readableBytes(connection) == 1)
        #expect(peer.engine.tcpStatistics.synCookiesAccepted == 1)
    }

    @Test func zeroWindowIsProbedWithoutSendingData() throws {
        // RFC 9293 §3.8.6.1.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let handshake109 = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake109)
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, window: 0)
        let data = [UInt8](repeating: 5, count: 100)
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == 100)
        let result7 = peer.run()
        #expect(result7.isEmpty, "nothing may be sent into a zero window")
        var probes: [RawTCPPeer.Reply] = []
        for _ in 0..<1500 {
            peer.advance(.milliseconds(1))
            probes += peer.run()
        }
        #expect(probes.count >= 1)
        #expect(probes.allSatisfy { $0.payload.isEmpty && $0.sequence == isn }, "probe at SND.UNA - 1")
        let resumed = peer.send(.ack, seq: 1001, ack: isn + 1, window: 1000)
        #expect(resumed.first?.payload == data, "the window opened: the data goes")
    }

    @Test func connectionPoolExhaustionRefusesNewOnesOnly() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 2, maxBuffers: 64))
        let listener = try peer.engine.listen(port: 80)
        let result8 = peer.establish(listener: listener)
        let first = try #require(result8)
        peer.peerPort += 1
        let handshake110 = peer.establish(listener: listener)
        _ = try #require(handshake110)
        peer.peerPort += 1
        let result9 = peer.send(.syn, seq: 1)
        #expect(result9.first?.flags == [.rst, .ack], "refused cleanly")
        #expect(peer.engine.tcpStatistics.refusedNoResources == 1)
        #expect(peer.engine.state(of: first.connection) == .established, "old connections unaffected")
    }

    @Test func keepAliveProbesThenResets() throws {
        // RFC 1122 §4.2.3.6: probes after the idle time, one per interval; an
        // unanswered series ends the connection.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, idleTimeout: nil,
                                                    keepAliveIdle: .seconds(10), keepAliveInterval: .seconds(2),
                                                    keepAliveProbes: 3))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        var probes: [UInt64] = []
        for _ in 0..<30_000 {
            peer.advance(.milliseconds(1))
            for reply in peer.run() where reply.flags == .ack && reply.payload.isEmpty {
                #expect(reply.sequence == isn, "probe at SND.UNA - 1")
                probes.append(peer.now.nanoseconds / 1_000_000)
                if probes.count == 1 {
                    // Answer the first probe: the idle clock starts again.
                    _ = peer.send(.ack, seq: 1001, ack: isn + 1)
                }
            }
        }
        #expect(probes.first.map { (10_000...10_001).contains($0) } == true, "\(probes)")
        #expect(probes.count == 4, "one answered, then three unanswered: \(probes)")
        #expect(probes.count == 4 && (20_000...20_002).contains(probes[1]), "idle restarted by the answer: \(probes)")
        #expect(peer.engine.state(of: connection) == .closed)
        #expect(peer.engine.error(of: connection) == .timedOut)
    }

    @Test func timeWaitLastsItsConfiguredTimeAfterTheLastFINThenFrees() throws {
        // RFC 9293 §3.6: the active closer waits in TIME-WAIT, acknowledging a
        // retransmitted FIN, before the connection is forgotten; a retransmitted
        // FIN starts the wait over (§3.10.7.4, eighth check).
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64,
                                                    timeWait: .seconds(5)))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        peer.engine.close(connection, now: peer.now)
        let fin = peer.run()
        #expect(fin.first?.flags == [.fin, .ack])
        _ = peer.send(.ack, seq: 1001, ack: isn + 2)  // FIN-WAIT-2
        let last = peer.send([.fin, .ack], seq: 1001, ack: isn + 2)
        #expect(last.first?.acknowledgment == 1002)
        #expect(peer.engine.connectionCount == 1, "in TIME-WAIT")
        peer.advance(.seconds(2))
        let again = peer.send([.fin, .ack], seq: 1001, ack: isn + 2)
        #expect(again.first?.acknowledgment == 1002, "a retransmitted FIN is acknowledged again")
        peer.advance(.seconds(3) + .milliseconds(2))
        _ = peer.run()
        #expect(peer.engine.connectionCount == 1, "5 s after the first FIN, 3 s after the second")
        let late = peer.send(.ack, seq: 1002, ack: isn + 2)
        #expect(late.isEmpty, "a bare ACK in TIME-WAIT neither answered nor restarting the wait")
        peer.advance(.seconds(2))
        _ = peer.run()
        #expect(peer.engine.connectionCount == 0, "gone 5 s after the last FIN")
    }

    @Test func sackRecoveryResendsEveryHoleWithoutATimeout() throws {
        // RFC 6675: with SACK, two losses in one window are both repaired in one
        // recovery, before any retransmission timeout.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, sendBufferSize: 65536,
                                                    delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let options = TCPOptions(maximumSegmentSize: 1000, sackPermitted: true)
        let handshake = peer.establish(listener: listener, options: options)
        let (isn, connection) = try #require(handshake)
        let data = seededBytes(10_000, seed: 6)
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == 10_000)
        let sent = peer.run()
        #expect(sent.count == 10, "IW10 of 1000-byte segments")
        let base = isn + 1
        // Segments 1 and 4 (0-based) are lost; the peer SACKs what it holds.
        let ack = base + 1000
        var sacks = [(base + 2000, base + 4000)]
        var retransmitted: [UInt32] = []
        for received in [2, 3, 5, 6, 7] {
            if received >= 5 { sacks = [(base + 5000, base + UInt32(received + 1) * 1000), (base + 2000, base + 4000)] }
            var sackOptions = TCPOptions()
            for (left, right) in sacks { sackOptions.sackBlocks.append(SACKBlock(left: left, right: right)) }
            for reply in peer.send(.ack, seq: 1001, ack: ack, options: sackOptions) where !reply.payload.isEmpty {
                retransmitted.append(reply.sequence - base)
            }
        }
        #expect(retransmitted.contains(1000) && retransmitted.contains(4000), "both holes resent: \(retransmitted)")
        #expect(peer.engine.tcpStatistics.timeouts == 0)
        #expect(peer.engine.tcpStatistics.fastRetransmits == 1)
    }

    @Test func activeOpenSendsSYNWithOptionsAndCompletes() throws {
        // RFC 9293 §3.5: SYN-SENT -> ESTABLISHED on a SYN-ACK acknowledging our SYN.
        var peer = RawTCPPeer()
        let connection = try peer.engine.connect(to: RawTCPPeer.peerIP, port: 5000, now: peer.now)
        let syn = try #require(peer.run().first)
        #expect(syn.flags == .syn)
        #expect(syn.header.options.maximumSegmentSize == 1460 && syn.header.options.sackPermitted)
        #expect(syn.header.options.timestamp != nil && syn.header.options.windowScale != nil)
        peer.peerPort = 5000
        let ack = peer.send([.syn, .ack], seq: 7000, ack: syn.sequence + 1, to: syn.header.sourcePort,
                            options: TCPOptions(maximumSegmentSize: 1400))
        #expect(ack.first?.flags == .ack && ack.first?.acknowledgment == 7001)
        #expect(peer.engine.state(of: connection) == .established)
        let event = peer.engine.nextEvent()
        #expect(event?.1.contains(.connected) == true)
    }

    @Test func resetAnsweringOurSYNRefusesTheConnection() throws {
        // RFC 9293 §3.10.7.3: in SYN-SENT a RST acknowledging the SYN means refused.
        var peer = RawTCPPeer()
        let connection = try peer.engine.connect(to: RawTCPPeer.peerIP, port: 5000, now: peer.now)
        let syn = try #require(peer.run().first)
        peer.peerPort = 5000
        // A RST whose ACK does not cover our SYN is ignored.
        _ = peer.send([.rst, .ack], seq: 0, ack: syn.sequence &+ 100, to: syn.header.sourcePort)
        #expect(peer.engine.state(of: connection) == .synSent)
        _ = peer.send([.rst, .ack], seq: 0, ack: syn.sequence + 1, to: syn.header.sourcePort)
        #expect(peer.engine.error(of: connection) == .connectionRefused)
        #expect(peer.engine.state(of: connection) == .closed)
    }

    @Test func simultaneousOpen() throws {
        // RFC 9293 §3.5 figure 8: SYN-SENT -> SYN-RECEIVED on a bare SYN, then ESTABLISHED.
        var peer = RawTCPPeer()
        let connection = try peer.engine.connect(to: RawTCPPeer.peerIP, port: 5000, now: peer.now)
        let syn = try #require(peer.run().first)
        peer.peerPort = 5000
        let synAck = peer.send(.syn, seq: 9000, to: syn.header.sourcePort)
        #expect(synAck.first?.flags == [.syn, .ack])
        #expect(synAck.first?.sequence == syn.sequence, "the same initial sequence number")
        #expect(peer.engine.state(of: connection) == .synReceived)
        _ = peer.send([.syn, .ack], seq: 9000, ack: syn.sequence + 1, to: syn.header.sourcePort)
        _ = peer.send(.ack, seq: 9001, ack: syn.sequence + 1, to: syn.header.sourcePort)
        #expect(peer.engine.state(of: connection) == .established)
    }

    @Test func simultaneousCloseGoesThroughClosing() throws {
        // RFC 9293 §3.6 figure 13: FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, timeWait: .seconds(1)))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        try peer.engine.shutdownWrite(connection)
        let ourFIN = peer.run()
        #expect(ourFIN.first?.flags == [.fin, .ack])
        #expect(peer.engine.state(of: connection) == .finWait1)
        // Their FIN crosses ours: it does not acknowledge our FIN.
        let ack = peer.send([.fin, .ack], seq: 1001, ack: isn + 1)
        #expect(ack.first?.acknowledgment == 1002)
        #expect(peer.engine.state(of: connection) == .closing)
        _ = peer.send(.ack, seq: 1002, ack: isn + 2)
        #expect(peer.engine.state(of: connection) == .timeWait)
        peer.advance(.seconds(1) + .milliseconds(2))
        _ = peer.run()
        #expect(peer.engine.state(of: connection) == .closed, "TIME-WAIT over; the handle waits for close()")
        peer.engine.close(connection, now: peer.now)
        #expect(peer.engine.connectionCount == 0)
    }

    @Test func resetOfAHalfOpenConnectionFreesTheSYNQueueSlot() throws {
        // RFC 9293 §3.10.7.4: a RST in SYN-RECEIVED of a passive open returns to LISTEN.
        var peer = RawTCPPeer()
        _ = try peer.engine.listen(port: 80, backlog: 1)
        let synAck = peer.send(.syn, seq: 500)
        #expect(synAck.first?.flags == [.syn, .ack])
        #expect(peer.engine.connectionCount == 1)
        _ = peer.send(.rst, seq: 501)
        #expect(peer.engine.connectionCount == 0)
        // The queue slot is free again: a new SYN gets a real SYN-ACK, not a cookie.
        peer.peerPort += 1
        _ = peer.send(.syn, seq: 800)
        #expect(peer.engine.tcpStatistics.synCookiesSent == 0)
    }

    @Test func ackFieldIsHonouredWhileOurWindowIsClosed() throws {
        // RFC 9293 §3.10.7.4: a zero receive window still accepts valid ACKs.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, receiveBufferSize: 2048,
                                                    delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        let data = [UInt8](repeating: 3, count: 500)
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == 500)
        _ = peer.run()
        // Fill our 2048-byte window; the application does not read.
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 1024))
        let filled = peer.send(.ack, seq: 2025, ack: isn + 1, payload: [UInt8](repeating: 1, count: 1024))
        #expect(filled.last?.header.window == 0)
        // A retransmitted tail starting before RCV.NXT, with a new ACK: the data is
        // refused, the ACK taken.
        _ = peer.send(.ack, seq: 2549, ack: isn + 501, payload: [UInt8](repeating: 1, count: 1000))
        peer.advance(.seconds(2))
        let later = peer.run()
        #expect(later.allSatisfy { $0.payload.isEmpty }, "nothing acknowledged is resent")
        #expect(peer.engine.tcpStatistics.retransmittedSegments == 0)
    }

    @Test func segmentBeyondAClosedWindowDoesNotFreezeTheSendWindow() throws {
        // RFC 9293 §3.10.7.4: SND.WL1/WL2 are updated only from acceptable segments.
        // A segment beyond our closed window (a peer overrunning it) must not set
        // SND.WL1 into the future, or the peer's later window updates at RCV.NXT are
        // ignored and our pending data is stuck. Found by the scapy conformance suite.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, receiveBufferSize: 2048,
                                                    delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        // The peer's window closes, then we have 500 bytes to send.
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, window: 0)
        let data = [UInt8](repeating: 3, count: 500)
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == 500)
        #expect(peer.run().allSatisfy { $0.payload.isEmpty })
        // The peer fills our 2048-byte window (the application does not read) ...
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, window: 0, payload: [UInt8](repeating: 1, count: 1024))
        let filled = peer.send(.ack, seq: 2025, ack: isn + 1, window: 0, payload: [UInt8](repeating: 1, count: 1024))
        #expect(filled.last?.header.window == 0)
        // ... overruns it by 1000 bytes (refused) ...
        _ = peer.send(.ack, seq: 4049, ack: isn + 1, window: 0, payload: [UInt8](repeating: 1, count: 1000))
        // ... and opens its own window with an ACK at our RCV.NXT: our data goes out.
        let opened = peer.send(.ack, seq: 3049, ack: isn + 1, window: 8192)
        #expect(opened.reduce(0) { $0 + $1.payload.count } == 500)
    }

    @Test func retransmissionTimeoutStaysInsideThePeersWindow() throws {
        // RFC 9293 §3.8.6: the segment resent from SND.UNA after a timeout may cover
        // what was sent before, but not more than the peer's window beyond it
        // (it used to be a full MSS whatever the window). Found by the scapy
        // conformance suite with a 400-byte window.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let synAck = peer.send(.syn, seq: 1000, window: 400, options: TCPOptions(maximumSegmentSize: 1460))
        let isn = try #require(synAck.first).sequence
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, window: 400)
        let accepted = peer.engine.accept(listener)
        let connection = try #require(accepted)
        let data = [UInt8](repeating: 7, count: 2000)
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == 2000)
        let first = peer.run()
        #expect(first.reduce(0) { $0 + $1.payload.count } == 400)
        peer.advance(.seconds(2))
        let resent = peer.run()
        #expect(!resent.isEmpty)
        #expect(resent.allSatisfy { $0.payload.count <= 400 && $0.sequence == isn + 1 })
    }

    @Test func ackFromBeyondAClosedWindowIsTaken() throws {
        // RFC 9293 §3.10.7.4: the peer's last segment was cut by our window, so its
        // pure ACKs carry SEG.SEQ = its SND.NXT, past our RCV.NXT: they are not
        // acceptable, but their ACK field must be taken, or acknowledged data is
        // resent after every timeout (seen with Linux over a lossy path).
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, receiveBufferSize: 2048,
                                                    delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        let data = [UInt8](repeating: 3, count: 500)
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == 500)
        _ = peer.run()
        _ = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 1024))
        let cut = peer.send(.ack, seq: 2025, ack: isn + 1, payload: [UInt8](repeating: 1, count: 1100))
        #expect(cut.last?.header.window == 0)
        #expect(cut.last?.header.acknowledgmentNumber == 3049)
        _ = peer.send(.ack, seq: 3125, ack: isn + 501)
        peer.advance(.seconds(3))
        _ = peer.run()
        #expect(peer.engine.tcpStatistics.retransmittedSegments == 0)
    }

    @Test func retransmittedSYNInSynReceivedGetsTheSynAckAgain() throws {
        // RFC 9293 §3.10.7.4 and Linux's tcp_check_req: a SYN repeated while we are
        // in SYN-RECEIVED means our SYN-ACK was lost; it is answered with the
        // SYN-ACK again, not with a bare ACK the client cannot use (it would wait
        // for our 1 s SYN-ACK timeout).
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        let offer = TCPOptions(maximumSegmentSize: 1460)
        let first = try #require(peer.send(.syn, seq: 100, options: offer).first)
        let again = peer.send(.syn, seq: 100, options: offer)
        #expect(again.count == 1)
        #expect(again.first?.flags == [.syn, .ack])
        #expect(again.first?.sequence == first.sequence && again.first?.acknowledgment == 101)
        #expect(peer.send(.ack, seq: 101, ack: first.sequence &+ 1).isEmpty)
        #expect(peer.engine.accept(listener) != nil)
    }

    @Test func activeOpenWithoutWindowScaleInTheSynAckAdvertisesUnscaled() throws {
        // RFC 7323 §2.2: window scaling is used only if both SYNs carried the option;
        // otherwise both shifts are 0 (the SYN offered one, the SYN-ACK did not).
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64,
                                                    receiveBufferSize: 256 * 1024))
        _ = try peer.engine.connect(to: RawTCPPeer.peerIP, port: 5000, now: peer.now)
        let syn = try #require(peer.run().first)
        #expect(syn.header.options.windowScale == 3)
        peer.peerPort = 5000
        let ack = peer.send([.syn, .ack], seq: 7000, ack: syn.sequence + 1, to: syn.header.sourcePort,
                            options: TCPOptions(maximumSegmentSize: 1460))
        #expect(ack.first?.flags == .ack)
        #expect(ack.first?.header.window == 65535, "unscaled: the buffer's 256 KiB capped at 65535")
    }

    @Test func scaledWindowFieldIsTruncated() throws {
        // RFC 7323 §2.3: the window is shifted right (truncated), never rounded up
        // beyond what the buffer holds.
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64,
                                                    receiveBufferSize: 256 * 1024, delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener,
                                       options: TCPOptions(maximumSegmentSize: 1460, windowScale: 7))
        let (isn, _) = try #require(handshake)
        let ack = peer.send(.ack, seq: 1001, ack: isn + 1, payload: [UInt8](repeating: 1, count: 1001))
        #expect(ack.first?.acknowledgment == 2002)
        #expect(ack.first?.header.window == UInt16((256 * 1024 - 1001) >> 3))
    }

    @Test func delayedAckCountsTimestampedSegmentsAsFullSized() throws {
        // RFC 5681 §4.2: an ACK at least for every second full-sized segment. With
        // timestamps a full-sized segment carries 1448 bytes (1460 less the option).
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, delayedAck: .milliseconds(40),
                                                    quickAcks: 0))
        let listener = try peer.engine.listen(port: 80)
        let offer = TCPOptions(maximumSegmentSize: 1460, timestamp: TCPTimestamp(value: 1, echoReply: 0))
        let handshake = peer.establish(listener: listener, options: offer)
        let (isn, _) = try #require(handshake)
        let timestamp = TCPOptions(timestamp: TCPTimestamp(value: 2, echoReply: 0))
        let full = [UInt8](repeating: 7, count: 1448)
        #expect(peer.send(.ack, seq: 1001, ack: isn + 1, options: timestamp, payload: full).isEmpty)
        let second = peer.send(.ack, seq: 1001 + 1448, ack: isn + 1, options: timestamp, payload: full)
        #expect(second.count == 1 && second.last?.acknowledgment == UInt32(1001 + 2 * 1448),
                "the second full-sized segment is acknowledged at once")
    }
}
