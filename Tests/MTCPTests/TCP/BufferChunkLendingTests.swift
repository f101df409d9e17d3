import Testing
@testable import MTCP

/// A connection reserves one chunk of each pool when it opens and holds one
/// only while its buffer holds bytes (`BufferChunkPool`): an idle connection
/// pins no buffer memory, and the reservation still bounds how many open.
@Suite struct BufferChunkLendingTests {
    @Test func aConnectionHoldsChunksOnlyWhileItsBuffersHoldBytes() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 8, maxBuffers: 8, delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        #expect(peer.engine.tcp.sendChunks.reserved == 1 && peer.engine.tcp.receiveChunks.reserved == 1)
        #expect(peer.engine.tcp.sendChunks.available == 8 && peer.engine.tcp.receiveChunks.available == 8)

        _ = peer.send([.ack, .psh], seq: 1001, ack: isn + 1, payload: Array("GET".utf8))
        #expect(peer.engine.tcp.receiveChunks.available == 7, "unread bytes hold a chunk")
        var buffer = [UInt8](repeating: 0, count: 16)
        let read = try buffer.withUnsafeMutableBytes { try peer.engine.read(connection, into: $0, now: peer.link.now) }
        #expect(read == 3 && buffer.prefix(3) == ArraySlice("GET".utf8))
        #expect(peer.engine.tcp.receiveChunks.available == 8, "read out, the chunk goes back")

        let data = [UInt8](repeating: 7, count: 100)
        let written = try data.withUnsafeBytes { try peer.engine.write(connection, $0) }
        #expect(written == 100)
        #expect(peer.engine.tcp.sendChunks.available == 7)
        let sent = peer.run()
        #expect(sent.first?.payload == data)
        #expect(peer.engine.tcp.sendChunks.available == 7, "sent but unacknowledged: still held for a resend")
        _ = peer.send(.ack, seq: 1004, ack: isn + 101)
        #expect(peer.engine.tcp.sendChunks.available == 8, "acknowledged, the chunk goes back")

        // Out-of-order data holds its chunk, though nothing is readable yet.
        _ = peer.send([.ack, .psh], seq: 1010, ack: isn + 101, payload: Array("late".utf8))
        #expect(peer.engine.readableBytes(connection) == 0)
        #expect(peer.engine.tcp.receiveChunks.available == 7)
        _ = peer.send([.ack, .psh], seq: 1004, ack: isn + 101, payload: Array("gap---".utf8))
        #expect(peer.engine.readableBytes(connection) == 10)
        #expect(peer.engine.state(of: connection) == .established)

        // Freed with unacknowledged bytes and unread ones: both chunks go back.
        let unacknowledged = try data.withUnsafeBytes { try peer.engine.write(connection, $0) }
        #expect(unacknowledged == 100 && peer.engine.tcp.sendChunks.available == 7)
        peer.engine.abort(connection, now: peer.link.now)
        #expect(peer.engine.tcp.receiveChunks.available == 8 && peer.engine.tcp.receiveChunks.reserved == 0)
        #expect(peer.engine.tcp.sendChunks.available == 8 && peer.engine.tcp.sendChunks.reserved == 0)
    }

    @Test func reservationsBoundTheConnectionsThoughNoChunkIsTaken() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 8, maxBuffers: 1))
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let first = try #require(handshake)
        #expect(peer.engine.tcp.sendChunks.available == 1, "reserved, not taken")
        peer.peerPort += 1
        let refusal = peer.send(.syn, seq: 1)
        #expect(refusal.first?.flags == [.rst, .ack], "no chunk left to promise")
        #expect(peer.engine.tcpStatistics.refusedNoResources == 1)
        #expect(peer.engine.state(of: first.connection) == .established)
    }
}
