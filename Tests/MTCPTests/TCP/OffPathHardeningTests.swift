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
}
