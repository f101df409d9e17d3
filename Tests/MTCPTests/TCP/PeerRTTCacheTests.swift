import Testing
@testable import MTCP

/// RTT estimates kept per peer for the next handshake (RFC 9040 §5): the cache
/// alone, then an engine whose later connections with a peer resend a lost
/// SYN-ACK after the RTO an earlier one measured instead of 1 s.
@Suite struct PeerRTTCacheTests {
    static let estimate = PeerRTTCache.Estimate(smoothed: .milliseconds(20), variance: .milliseconds(5))
    static let key = SipHash(key0: 7, key1: 11)
    static let cached = TCPConfiguration(maxConnections: 64, maxBuffers: 64, peerRTTCache: true)

    @Test func anEstimateIsFoundForItsPeerOnlyAndOnlyWithinItsLifetime() {
        var cache = PeerRTTCache(slots: 64, key: Self.key)
        let peer = IPAddress(IPv4Address(198, 18, 0, 2))
        let heard = Instant(nanoseconds: 5_000_000_000)
        #expect(cache.estimate(for: peer, now: heard) == nil)
        cache.store(Self.estimate, for: peer, heardAt: heard)
        #expect(cache.estimate(for: peer, now: heard + .seconds(599)) == Self.estimate)
        #expect(cache.estimate(for: peer, now: heard + PeerRTTCache.lifetime) == nil, "paths change")
        #expect(cache.estimate(for: IPAddress(IPv4Address(198, 18, 0, 3)), now: heard) == nil)
        let mapped = IPAddress(IPv6Address(high: 0, low: 0xFFFF_C612_0002))
        #expect(mapped == peer, "IPv4 is kept mapped: one key for one host")
        #expect(cache.estimate(for: IPAddress(IPv6Address(high: 0x2001_0002_0000_0000, low: 0xFFFF_C612_0002)),
                               now: heard) == nil)
    }

    @Test func ofTwoEstimatesForASlotTheOneHeardFromLastIsKept() {
        var cache = PeerRTTCache(slots: 1, key: Self.key)  // rounded to 2 slots: collisions are certain
        let peers = (1...3).map { IPAddress(IPv4Address(198, 18, 1, UInt8($0))) }
        for (index, peer) in peers.enumerated() {
            cache.store(Self.estimate, for: peer, heardAt: Instant(nanoseconds: UInt64(index + 1)))
        }
        let found = peers.filter { cache.estimate(for: $0, now: .zero) != nil }
        #expect(found.count <= 2 && found.contains(peers[2]), "the newest entry of a slot wins")
        let slower = PeerRTTCache.Estimate(smoothed: .milliseconds(90), variance: .milliseconds(9))
        cache.store(slower, for: peers[2], heardAt: .zero)
        #expect(cache.estimate(for: peers[2], now: .zero) == Self.estimate,
                "a connection closed long after it last heard from its peer displaces nothing")
    }

    /// One connection from the raw peer through its handshake, the peer's FIN
    /// and ours, each answered `rtt` later: it ends, leaving its estimate.
    static func connectAndClose(_ peer: inout RawTCPPeer, listener: ListenerID, rtt: TimeSpan) throws {
        let synAck = peer.send(.syn, seq: 1000, options: TCPOptions(maximumSegmentSize: 1460))
        let isn = try #require(synAck.first { $0.flags == [.syn, .ack] }).sequence
        peer.advance(rtt)
        #expect(peer.send(.ack, seq: 1001, ack: isn + 1).isEmpty)
        let accepted = peer.engine.accept(listener)
        let connection = try #require(accepted)
        peer.send([.fin, .ack], seq: 1001, ack: isn + 1)
        peer.engine.close(connection, now: peer.now)
        #expect(peer.run().first?.flags == [.fin, .ack])
        peer.advance(rtt)
        peer.send(.ack, seq: 1002, ack: isn + 2)
        #expect(peer.engine.connectionCount == 0)
    }

    /// The milliseconds after the SYN at which a new connection's SYN-ACK goes
    /// again, left unanswered, until `limit` or a reset.
    static func synAckResends(_ peer: inout RawTCPPeer, port: UInt16, until limit: TimeSpan) -> [UInt64] {
        peer.peerPort = port
        let start = peer.now
        _ = peer.send(.syn, seq: 5000, options: TCPOptions(maximumSegmentSize: 1460))
        var times: [UInt64] = []
        while peer.now.since(start) < limit {
            peer.advance(.milliseconds(1))
            let sent = peer.run()
            if sent.contains(where: { $0.flags == [.syn, .ack] }) {
                times.append(peer.now.since(start).nanoseconds / 1_000_000)
            }
            if sent.contains(where: { $0.flags.contains(.rst) }) { break }
        }
        return times
    }

    @Test func aLaterConnectionResendsItsLostSYNACKAfterTheEarlierOnesRTO() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, maximumSYNRetransmissions: 2,
                                                    peerRTTCache: true))
        let listener = try peer.engine.listen(port: 80)
        #expect(Self.synAckResends(&peer, port: 40000, until: .seconds(8)) == [1000, 3000])
        try Self.connectAndClose(&peer, listener: listener, rtt: .milliseconds(20))
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 0)

        // SRTT 20 ms and RTTVAR 10 ms give 60 ms, raised to the 200 ms lower
        // bound; then the default schedule, with one resend more before the reset.
        let resends = Self.synAckResends(&peer, port: 40002, until: .seconds(10))
        #expect(resends == [200, 1200, 3200])
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 1)
        #expect(peer.engine.connectionCount == 0, "given up after 7.2 s, no sooner than without a seed (7 s)")
    }

    @Test func theSeededTimeoutIsTheEarlierConnectionsRTO() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64,
                                                    minimumRTO: .milliseconds(10), peerRTTCache: true))
        let listener = try peer.engine.listen(port: 80)
        try Self.connectAndClose(&peer, listener: listener, rtt: .milliseconds(20))
        // The handshake's sample (Karn's, no timestamps here; the FIN went
        // untimed): SRTT 20 ms, RTTVAR 10 ms, RTO 60 ms (RFC 6298 §2.2).
        #expect(Self.synAckResends(&peer, port: 40002, until: .milliseconds(1100)) == [60, 1060])
    }

    @Test func aSeedNoEarlierThanOneSecondIsNotUsed() throws {
        var peer = RawTCPPeer(tcp: Self.cached)
        let listener = try peer.engine.listen(port: 80)
        try Self.connectAndClose(&peer, listener: listener, rtt: .milliseconds(400))
        #expect(Self.synAckResends(&peer, port: 40002, until: .milliseconds(3500)) == [1000, 3000],
                "RFC 6298 §5.5's schedule, with no extra try")
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 0)
    }

    /// The application closed it (FIN-WAIT-1), then the peer reset it: an error
    /// nobody is told of, and still no estimate is kept.
    @Test func aConnectionResetAfterItsCloseLeavesNoEstimate() throws {
        var peer = RawTCPPeer(tcp: Self.cached)
        let listener = try peer.engine.listen(port: 80)
        let synAck = peer.send(.syn, seq: 1000, options: TCPOptions(maximumSegmentSize: 1460))
        let isn = try #require(synAck.first).sequence
        peer.advance(.milliseconds(20))
        peer.send(.ack, seq: 1001, ack: isn + 1)
        let accepted = peer.engine.accept(listener)
        let connection = try #require(accepted)
        peer.engine.close(connection, now: peer.now)
        #expect(peer.run().first?.flags == [.fin, .ack])
        #expect(peer.send(.rst, seq: 1001).isEmpty)
        #expect(peer.engine.connectionCount == 0)
        #expect(Self.synAckResends(&peer, port: 40002, until: .milliseconds(1500)) == [1000])
    }

    @Test func withoutPeerRTTCacheEveryHandshakeStartsAtOneSecond() throws {
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        try Self.connectAndClose(&peer, listener: listener, rtt: .milliseconds(20))
        #expect(Self.synAckResends(&peer, port: 40002, until: .milliseconds(1500)) == [1000])
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 0)
    }

    @Test func anEstimateIsNotUsedAfterItsLifetime() throws {
        var peer = RawTCPPeer(tcp: Self.cached)
        let listener = try peer.engine.listen(port: 80)
        try Self.connectAndClose(&peer, listener: listener, rtt: .milliseconds(20))
        peer.advance(PeerRTTCache.lifetime)
        #expect(Self.synAckResends(&peer, port: 40002, until: .milliseconds(1500)) == [1000])
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 0)
    }
}
