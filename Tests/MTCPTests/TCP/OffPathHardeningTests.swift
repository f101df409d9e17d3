import Testing
@testable import MTCP

/// What a blind (off-path) attacker can try against the engine, which can spoof
/// segments but not see our replies: guessing SYN cookies, provoking challenge
/// ACKs, linking connections by their timestamps, predicting ephemeral ports.
@Suite struct OffPathHardeningTests {
    /// An ACK carrying a genuine cookie for `remotePort`, as an attacker who
    /// guessed the keyed hash would send it.
    private static func forgedCookie(_ peer: borrowing RawTCPPeer, remotePort: UInt16, peerSequence: UInt32) -> UInt32 {
        let tuple = FourTuple(localAddress: RawTCPPeer.engineIP, localPort: 80,
                              remoteAddress: RawTCPPeer.peerIP, remotePort: remotePort)
        return SYNCookie.make(peer.engine.tcp.secret, tuple, peerSequence: SequenceNumber(peerSequence),
                              peerMSS: 1460, now: peer.now).rawValue
    }

    @Test func cookiesAreCheckedOnlyWithinAWindowAfterTheSYNQueueOverflowed() throws {
        // Linux checks cookies only while the SYN queue overflowed recently; so do we.
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80, backlog: 1)
        peer.peerPort = 40001
        let early = Self.forgedCookie(peer, remotePort: 40001, peerSequence: 5000)
        #expect(peer.send(.ack, seq: 5001, ack: early &+ 1).first?.flags == .rst,
                "no overflow yet: a valid cookie is a stray ACK")
        #expect(peer.engine.connectionCount == 0)
        #expect(peer.engine.tcpStatistics.synCookiesChecked == 0)
        #expect(peer.engine.tcpStatistics.synCookiesRejected == 0)

        peer.peerPort = 40000
        _ = peer.send(.syn, seq: 10)  // fills the SYN queue
        peer.peerPort = 40002
        #expect(peer.send(.syn, seq: 7000).first?.flags == [.syn, .ack])
        #expect(peer.engine.tcpStatistics.synCookiesSent == 1)
        peer.advance(.seconds(60))
        peer.peerPort = 40001
        #expect(peer.send(.ack, seq: 5001, ack: early &+ 1).first?.flags != .rst, "within the window it is honoured")
        #expect(peer.engine.accept(listener) != nil)
        #expect(peer.engine.tcpStatistics.synCookiesChecked == 1)
        #expect(peer.engine.tcpStatistics.synCookiesAccepted == 1)

        peer.advance(SYNCookie.checkWindow)
        peer.peerPort = 40003
        let late = Self.forgedCookie(peer, remotePort: 40003, peerSequence: 9000)
        #expect(peer.send(.ack, seq: 9001, ack: late &+ 1).first?.flags == .rst,
                "the window after the overflow is over")
        #expect(peer.engine.tcpStatistics.synCookiesChecked == 1)
        #expect(peer.engine.tcpStatistics.synCookiesAccepted == 1)
    }

    @Test func ourTimestampsCarryTheConnectionsOffsetAndTheirEchoesStillTimeTheRTT() throws {
        // RFC 7323 §7.1: TSval = clock + a per-connection offset; the RTT from an
        // echo (§4.1) is measured in the same domain.
        typealias Test = ConnectionUnderTest
        let offer = TCPOptions(maximumSegmentSize: 1460, timestamp: TCPTimestamp(value: 1, echoReply: 0))
        let test = Test.established(peerOptions: offer)
        #expect(test.connection.rtt.smoothedRTT == .zero, "the handshake's sample")
        _ = test.advance(by: .seconds(2))
        #expect(try test.write([UInt8](repeating: 1, count: 100)) == 100)
        let data = try #require(test.output().first)
        let tsval = try #require(data.options.timestamp).value
        #expect(tsval == 2000 &+ Test.timestampOffset)
        _ = test.advance(by: .milliseconds(300))
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 101,
                         options: TCPOptions(timestamp: TCPTimestamp(value: 2, echoReply: tsval)))
        // RFC 6298 §2.3: SRTT = 7/8 · 0 + 1/8 · 300 ms (an unshifted echo would look
        // 1.6e9 ms old and give no sample at all).
        #expect(test.connection.rtt.smoothedRTT == .microseconds(37_500))
    }

    @Test func twoConnectionsFromOneClientShowUnrelatedTimestamps() throws {
        // An observer cannot link connections by a shared TSval clock nor read the uptime.
        var peer = RawTCPPeer(start: .zero + .seconds(86_400))
        _ = try peer.engine.listen(port: 80)
        let offer = TCPOptions(maximumSegmentSize: 1460, timestamp: TCPTimestamp(value: 1, echoReply: 0))
        var tsvals: [UInt32] = []
        for port: UInt16 in [40001, 40002] {
            peer.peerPort = port
            let synAck = try #require(peer.send(.syn, seq: 1000, options: offer).first)
            tsvals.append(try #require(synAck.header.options.timestamp).value)
        }
        let clock = UInt32(peer.now.nanoseconds / 1_000_000)
        #expect(tsvals[0] != tsvals[1], "same instant, different connections")
        #expect(!tsvals.contains(clock), "not the engine's clock")
    }

    @Test func ephemeralPortsStartWhereAKeyedHashOfTheDestinationSays() throws {
        // RFC 6056 algorithm 3: port = first + (F(destination, secret) + counter) mod count.
        var peer = RawTCPPeer()
        let other = IPv4Address(198, 18, 0, 9)
        func localPort(_ peer: inout RawTCPPeer, to address: IPv4Address, from requested: UInt16? = nil) throws
            -> UInt16 {
            let id = try peer.engine.connect(to: address, port: 80, localPort: requested, now: peer.now)
            return peer.engine.tcp.connections.block(id)?.pointee.tuple.localPort ?? 0
        }
        /// `n` ports after `port` in the ephemeral range, wrapping.
        func after(_ port: UInt16, _ n: UInt16) -> UInt16 { 49152 + (port - 49152 + n) % 16384 }
        let first = try localPort(&peer, to: RawTCPPeer.peerIP)
        let elsewhere = try localPort(&peer, to: other)
        #expect(first != 49152, "not the start of the range")
        #expect(elsewhere != after(first, 1), "another destination's run starts elsewhere")
        // The same destination again: the next port of its run, skipping one that
        // a listener holds and one a connection to it already uses.
        let next = try localPort(&peer, to: RawTCPPeer.peerIP)
        #expect(next == after(first, 2), "the counter moved on by the other connect")
        _ = try peer.engine.listen(port: after(first, 3))
        _ = try localPort(&peer, to: RawTCPPeer.peerIP, from: after(first, 4))
        #expect(try localPort(&peer, to: RawTCPPeer.peerIP) == after(first, 5))
        for port in [first, elsewhere, next] { #expect((49152...65535).contains(port)) }
    }
}
