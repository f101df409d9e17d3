import Testing
@testable import MTCP

/// `tx_rate_mbps`: the engine's output shaped to a line rate, against a scripted
/// peer with explicit time. At 10 Mbit/s the line carries 1,250 bytes of wire time
/// per millisecond, less than one full-sized frame.
@Suite struct TransmitShaperTests {
    static let rateMbps: UInt64 = 10
    static let wireBytesPerMillisecond = 1250
    static let fullFrameWireBytes = 1514 + 24

    static func peer(_ scheduling: DataScheduling = .twoClass) -> RawTCPPeer {
        RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, sendBufferSize: 256 * 1024,
                                         delayedAck: nil, dataScheduling: scheduling),
                   transmitRateMbps: rateMbps)
    }

    /// A connection from `peer.peerPort` with `bytes` written by the engine's application.
    static func bulkConnection(_ peer: inout RawTCPPeer, _ listener: ListenerID, bytes: Int) throws -> UInt32 {
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        let data = seededBytes(bytes, seed: 7)
        #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == bytes)
        return isn &+ 1
    }

    /// One millisecond: the peer acknowledges everything it has received so far
    /// (from its own port), then the engine runs once.
    static func millisecond(_ peer: inout RawTCPPeer, acknowledging highest: inout UInt32) -> [RawTCPPeer.Reply] {
        peer.advance(.milliseconds(1))
        let replies = peer.send(.ack, seq: 1001, ack: highest)
        for reply in replies where !reply.payload.isEmpty {
            highest = max(highest, reply.sequence &+ UInt32(reply.payload.count))
        }
        return replies
    }

    @Test func outputHoldsToTheLineRateOverAnInterval() throws {
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        var highest = try Self.bulkConnection(&peer, listener, bytes: 200_000)
        // The first milliseconds spend the bucket's saved credit.
        for _ in 0..<10 { _ = Self.millisecond(&peer, acknowledging: &highest) }
        var sent = 0
        for _ in 0..<100 {
            sent += Self.millisecond(&peer, acknowledging: &highest).reduce(0) { $0 + $1.wireBytes }
            #expect(peer.engine.outputBacklog > 0)
        }
        // Credit is earned exactly and spent at most one frame ahead: the wire
        // time of 100 ms is within two frames of 100 ms at the line rate.
        #expect(abs(sent - 100 * Self.wireBytesPerMillisecond) <= 2 * Self.fullFrameWireBytes)
        #expect(peer.engine.statistics.shapedFrames > 0)
    }

    @Test func withoutARateOutputIsNotHeldBack() throws {
        var peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: 64, sendBufferSize: 256 * 1024,
                                                    delayedAck: nil))
        let listener = try peer.engine.listen(port: 80)
        var highest = try Self.bulkConnection(&peer, listener, bytes: 200_000)
        var sent = 0
        for _ in 0..<10 { sent += Self.millisecond(&peer, acknowledging: &highest).reduce(0) { $0 + $1.wireBytes } }
        #expect(sent > 10 * Self.wireBytesPerMillisecond * 4)
        #expect(peer.engine.statistics.shapedFrames == 0)
    }

    /// Under a SYN flood on a saturated, shaped line, the SYN-ACKs and a pure ACK
    /// the engine owes go out before any more of the bulk data waiting for the line,
    /// whatever the order of the data list.
    @Test(arguments: DataScheduling.allCases)
    func synAcksAndAcksGoBeforeDataOnASaturatedLine(_ scheduling: DataScheduling) throws {
        var peer = Self.peer(scheduling)
        let listener = try peer.engine.listen(port: 80)
        let bulkPort = peer.peerPort
        peer.peerPort = 41000
        let handshake = peer.establish(listener: listener)
        let quiet = try #require(handshake)
        peer.peerPort = bulkPort
        var highest = try Self.bulkConnection(&peer, listener, bytes: 200_000)
        for _ in 0..<20 {
            peer.peerPort = bulkPort
            _ = Self.millisecond(&peer, acknowledging: &highest)
        }
        #expect(peer.engine.outputBacklog > 0)

        // Twenty SYNs and a data segment on the quiet connection, all at one instant.
        var replies: [RawTCPPeer.Reply] = []
        for index in 0..<20 {
            peer.peerPort = 50000 + UInt16(index)
            replies += peer.send(.syn, seq: 5000, options: TCPOptions(maximumSegmentSize: 1460))
        }
        peer.peerPort = 41000
        replies += peer.send(.ack, seq: 1001, ack: quiet.engineISN &+ 1, payload: [1, 2, 3])
        peer.peerPort = bulkPort
        for _ in 0..<5 { replies += Self.millisecond(&peer, acknowledging: &highest) }

        let synAcks = replies.indices.filter { replies[$0].flags == [.syn, .ack] }
        let quietAck = replies.firstIndex { $0.header.destinationPort == 41000 && $0.acknowledgment == 1004 }
        let data = replies.indices.filter { !replies[$0].payload.isEmpty }
        #expect(synAcks.count == 20)
        let lastOwed = max(synAcks.max() ?? 0, try #require(quietAck))
        // Data went out in these milliseconds, but only after what was owed.
        #expect(!data.isEmpty)
        #expect(data.allSatisfy { $0 > lastOwed })
    }

    /// Bare ACKs to a port nobody listens on, each answered by a reset, at ten
    /// times the line rate for 100 ms. The line carries no more resets than its
    /// rate and queue allow (the rest are refused and counted, as a saturated NIC
    /// drops them), and an ACK owed on an established connection goes out within
    /// the bucket's depth after the flood, not once the flood's debt is repaid.
    @Test func aFloodOfResetsLeavesNoDebtBehind() throws {
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, _) = try #require(handshake)
        let quietPort = peer.peerPort
        peer.peerPort = 30000
        var resets = 0, resetWireBytes = 0
        for _ in 0..<1000 {
            peer.advance(.microseconds(100))
            // 15 resets of 84 byte-times in 100 µs: 12,600 bytes a millisecond against 1,250.
            for _ in 0..<15 {
                for reply in peer.send(.ack, seq: 1, ack: 1, to: 81) where reply.flags.contains(.rst) {
                    resets += 1
                    resetWireBytes += reply.wireBytes
                }
            }
        }
        let depthWireBytes = 2 * Self.fullFrameWireBytes
        // The line's rate, the credit saved before and a queue of the same depth,
        // and the one reply that may cross it.
        #expect(resetWireBytes <= 100 * Self.wireBytesPerMillisecond + 2 * depthWireBytes + Self.fullFrameWireBytes)
        #expect(peer.engine.statistics.statelessRepliesRefused == UInt64(15_000 - resets))

        peer.peerPort = quietPort
        peer.inject(.ack, seq: 1001, ack: isn &+ 1, payload: [1, 2, 3])
        var waited = 0
        while !peer.run().contains(where: { $0.acknowledgment == 1004 }) && waited < 200_000 {
            peer.advance(.microseconds(500))
            waited += 500
        }
        // The bucket's depth at 10 Mbit/s is two full frames: about 2.5 ms of line
        // (plus the reply that crossed it), in steps of 0.5 ms.
        #expect(waited <= 3500)
    }

    /// A request answered in the iteration that received it: on a shaped line
    /// too, the response carries the ACK, with no pure ACK before it.
    @Test func aResponseWrittenAtOnceCarriesTheRequestsAck() throws {
        var peer = Self.peer()
        let listener = try peer.engine.listen(port: 80)
        let handshake = peer.establish(listener: listener)
        let (isn, connection) = try #require(handshake)
        peer.advance(.milliseconds(1))
        let request = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        peer.inject(.ack, seq: 1001, ack: isn &+ 1, payload: request)
        peer.engine.poll(now: peer.now)
        let response = [UInt8](repeating: 0x61, count: 200)
        #expect((try? response.withUnsafeBytes { try peer.engine.write(connection, $0) }) == 200)
        peer.engine.flush(now: peer.now)
        let replies = peer.collect()
        #expect(replies.count == 1)
        #expect(replies.first?.payload.count == 200)
        #expect(replies.first?.acknowledgment == 1001 &+ UInt32(request.count))
    }
}

/// The bucket alone, at its edges.
@Suite struct TransmitShaperEdgeTests {
    /// A monotonic clock never goes back, but if the time handed in does, the
    /// interval it comes forward again over was already credited once.
    @Test func aClockGoingBackEarnsNothingTwice() {
        var shaper = TransmitShaper(megabitsPerSecond: 10, now: .zero)
        shaper.refill(now: Instant(nanoseconds: 10_000_000))
        while shaper.hasCredit { shaper.charge(frameLength: 1514) }
        shaper.refill(now: Instant(nanoseconds: 9_000_000))
        shaper.refill(now: Instant(nanoseconds: 10_000_000))
        #expect(!shaper.hasCredit)
    }

    /// Any rate the library's configuration takes is safe: the largest is
    /// capped, and a millisecond earns credit again after a frame.
    @Test func theLargestRateNeitherTrapsNorWraps() {
        var shaper = TransmitShaper(megabitsPerSecond: .max, now: .zero)
        #expect(shaper.hasCredit)
        shaper.charge(frameLength: 1514)
        shaper.refill(now: Instant(nanoseconds: 1_000_000))
        #expect(shaper.hasCredit)
    }
}
