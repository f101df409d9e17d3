import Testing
@testable import MTCP

/// RTT estimates kept per peer for the next handshake (RFC 9040 §5): the cache
/// alone, then an engine whose second connection with a peer resends a lost
/// SYN-ACK after the first connection's RTO instead of 1 s.
@Suite struct PeerRTTCacheTests {
    static let estimate = PeerRTTCache.Estimate(smoothed: .milliseconds(20), variance: .milliseconds(5))
    static let key = SipHash(key0: 7, key1: 11)

    @Test func anEstimateIsFoundForItsPeerOnlyAndOnlyWithinItsLifetime() {
        var cache = PeerRTTCache(slots: 64, key: Self.key)
        let peer = IPAddress(IPv4Address(198, 18, 0, 2))
        let stored = Instant(nanoseconds: 5_000_000_000)
        #expect(cache.estimate(for: peer, now: stored) == nil)
        cache.store(Self.estimate, for: peer, now: stored)
        #expect(cache.estimate(for: peer, now: stored + .seconds(599)) == Self.estimate)
        #expect(cache.estimate(for: peer, now: stored + PeerRTTCache.lifetime) == nil, "paths change")
        #expect(cache.estimate(for: IPAddress(IPv4Address(198, 18, 0, 3)), now: stored) == nil)
        let mapped = IPAddress(IPv6Address(high: 0, low: 0xFFFF_C612_0002))
        #expect(mapped == peer, "IPv4 is kept mapped: one key for one host")
        #expect(cache.estimate(for: IPAddress(IPv6Address(high: 0x2001_0002_0000_0000, low: 0xFFFF_C612_0002)),
                               now: stored) == nil)
    }

    @Test func aPeerWhoseSlotIsTakenReplacesTheEntry() {
        var cache = PeerRTTCache(slots: 1, key: Self.key)  // rounded to 2 slots: collisions are certain
        let peers = (1...3).map { IPAddress(IPv4Address(198, 18, 1, UInt8($0))) }
        for peer in peers { cache.store(Self.estimate, for: peer, now: .zero) }
        let found = peers.filter { cache.estimate(for: $0, now: .zero) != nil }
        #expect(found.count <= 2 && found.contains(peers[2]), "the newest entry of a slot wins")
    }

    /// One connection from the raw peer through its handshake (20 ms between
    /// our SYN-ACK and its ACK), the peer's FIN and ours: it ends, leaving its RTT.
    static func connectAndClose(_ peer: inout RawTCPPeer, listener: ListenerID) throws {
        let synAck = peer.send(.syn, seq: 1000, options: TCPOptions(maximumSegmentSize: 1460))
        let isn = try #require(synAck.first { $0.flags == [.syn, .ack] }).sequence
        peer.advance(.milliseconds(20))
        #expect(peer.send(.ack, seq: 1001, ack: isn + 1).isEmpty)
        let accepted = peer.engine.accept(listener)
        let connection = try #require(accepted)
        peer.send([.fin, .ack], seq: 1001, ack: isn + 1)
        peer.engine.close(connection, now: peer.now)
        #expect(peer.run().first?.flags == [.fin, .ack])
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

    @Test func aSecondConnectionResendsItsLostSYNACKAfterTheFirstOnesRTO() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, maximumSYNRetransmissions: 2))
        let listener = try peer.engine.listen(port: 80)
        #expect(Self.synAckResends(&peer, port: 40000, until: .seconds(8)) == [1000, 3000])
        try Self.connectAndClose(&peer, listener: listener)
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 0)

        // SRTT 20 ms, RTTVAR 10 ms: RTO 200 ms (the lower bound). Then the
        // default schedule, with one resend more before the reset.
        let resends = Self.synAckResends(&peer, port: 40002, until: .seconds(10))
        #expect(resends == [200, 1200, 3200])
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 1)
        #expect(peer.engine.connectionCount == 0, "given up after 7.2 s, no sooner than without a seed (7 s)")
    }

    @Test func anEstimateIsNotUsedAfterItsLifetime() throws {
        var peer = RawTCPPeer()
        let listener = try peer.engine.listen(port: 80)
        try Self.connectAndClose(&peer, listener: listener)
        peer.advance(PeerRTTCache.lifetime)
        #expect(Self.synAckResends(&peer, port: 40002, until: .milliseconds(1500)) == [1000])
        #expect(peer.engine.tcpStatistics.cachedRTTOpens == 0)
    }
}
