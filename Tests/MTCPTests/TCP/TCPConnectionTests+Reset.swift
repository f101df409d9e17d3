import Testing
@testable import MTCP

/// The connection alone against resets, stray SYNs and old duplicates in the
/// synchronized states: RFC 5961's checks against blind attacks, PAWS (RFC 7323
/// §5), and the closed connection that answers everything with a reset.
@Suite struct TCPConnectionResetTests {
    typealias Test = ConnectionUnderTest

    @Test func aResetAtExactlyRCVNXTEndsTheConnection() {
        let test = Test.established()
        #expect(test.receive(.rst, seq: Test.peerISS + 1).isEmpty)
        #expect(test.connection.state == .closed)
        #expect(test.connection.error == .connectionReset)
        #expect(test.connection.pendingEvents.contains(.error))
        #expect(test.ended)
        #expect(test.environment.connectionStatistics.resetsReceived == 1)
    }

    @Test func aResetElsewhereInTheWindowGetsAChallengeACK() {
        // RFC 5961 §3.2: the attacker must guess RCV.NXT exactly.
        let test = Test.established()
        let sent = test.receive(.rst, seq: Test.peerISS + 100)
        #expect(sent.map(\.flags) == [.ack])
        #expect(sent.first?.acknowledgment == Test.peerISS + 1)
        #expect(test.connection.state == .established)
        #expect(test.environment.connectionStatistics.challengeAcksSent == 1)
    }

    @Test func challengeACKsAreLimitedPerConnection() {
        // RFC 5961 §7: a flood of in-window resets and SYNs gets one challenge ACK
        // per interval, counted on this connection alone.
        let test = Test.established()
        #expect(test.receive(.rst, seq: Test.peerISS + 100).map(\.flags) == [.ack])
        for offset: UInt32 in 1...50 {
            #expect(test.receive(.rst, seq: Test.peerISS + 100 + offset).isEmpty)
        }
        #expect(test.receive(.syn, seq: Test.peerISS + 1).isEmpty)
        #expect(test.environment.connectionStatistics.challengeAcksSent == 1)
        #expect(test.environment.connectionStatistics.challengeAcksSuppressed == 51)
        _ = test.advance(by: .milliseconds(499))
        #expect(test.receive(.rst, seq: Test.peerISS + 300).isEmpty, "499 ms of TCPConnection.challengeAckInterval")
        _ = test.advance(by: .milliseconds(1))
        #expect(test.receive(.rst, seq: Test.peerISS + 300).map(\.flags) == [.ack], "the interval is over")
        #expect(test.connection.state == .established)
        #expect(test.environment.connectionStatistics.challengeAcksSent == 2)
    }

    @Test func aResetOutsideTheWindowIsIgnored() {
        let test = Test.established()
        #expect(test.receive(.rst, seq: Test.peerISS + 100_000).isEmpty)
        #expect(test.connection.state == .established)
        #expect(test.environment.connectionStatistics.outOfWindow == 1)
    }

    @Test func aSYNInASynchronizedStateGetsAChallengeACK() {
        // RFC 5961 §4: no reset on a SYN, whatever its sequence number.
        let test = Test.established()
        let sent = test.receive(.syn, seq: Test.peerISS + 1)
        #expect(sent.map(\.flags) == [.ack])
        #expect(test.connection.state == .established)
        #expect(test.environment.connectionStatistics.challengeAcksSent == 1)
    }

    @Test func anACKOlderThanTheLargestWindowGetsAChallengeACK() throws {
        // RFC 5961 §5.2: SEG.ACK below SND.UNA - MAX.SND.WND.
        let test = Test.established(peerWindow: 1000)
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS - 5000)
        #expect(sent.map(\.flags) == [.ack])
        #expect(test.environment.connectionStatistics.challengeAcksSent == 1)
    }

    @Test func aSegmentWithoutACKInASynchronizedStateIsDropped() {
        let test = Test.established()
        #expect(test.receive([], seq: Test.peerISS + 1, payload: [1, 2]).isEmpty)
        #expect(test.connection.receive.readable == 0)
    }

    @Test func pawsDropsASegmentWithAnOldTimestamp() {
        let offer = TCPOptions(maximumSegmentSize: 1460, timestamp: TCPTimestamp(value: 1000, echoReply: 0))
        let test = Test.established(peerOptions: offer)
        let old = TCPOptions(timestamp: TCPTimestamp(value: 999, echoReply: 0))
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, options: old, payload: [1])
        #expect(sent.map(\.flags) == [.ack], "answered, not taken (RFC 7323 §5.3)")
        #expect(test.connection.receive.readable == 0)
        #expect(test.environment.connectionStatistics.pawsRejected == 1)
        let fresh = TCPOptions(timestamp: TCPTimestamp(value: 1001, echoReply: 0))
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, options: fresh, payload: [1])
        #expect(test.connection.receive.readable == 1)
        #expect(test.connection.timestampRecent == 1001)
    }

    @Test func anEndedConnectionAnswersWithAReset() {
        let test = Test.established()
        _ = test.receive(.rst, seq: Test.peerISS + 1)
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [1])
        #expect(sent.map(\.flags) == [.rst], "kept only for the application's handle")
        #expect(sent.first?.sequence == Test.ourISS + 1)
        #expect(test.receive(.rst, seq: Test.peerISS + 1).isEmpty, "a reset is never answered")
    }

    @Test func aZeroWindowStillTakesTheACKField() throws {
        // RFC 9293 §3.10.7.4: with our window closed, data is refused but the ACK is processed.
        let test = Test.established(TCPConfiguration(receiveBufferSize: 1460))
        _ = try test.write([1, 2, 3])
        _ = test.output()
        let fill = [UInt8](repeating: 7, count: 1460)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: fill)
        #expect(test.connection.advertisedWindowEdge == test.connection.receiveNext, "closed")
        // Beyond RCV.NXT, as from a peer whose last segment was cut by the window.
        let sent = test.receive(.ack, seq: Test.peerISS + 1462, ack: Test.ourISS + 4, payload: [8])
        #expect(test.connection.sendUnacknowledged.rawValue == Test.ourISS + 4, "acknowledged all the same")
        #expect(sent.map(\.acknowledgment) == [Test.peerISS + 1461], "the byte is not taken")
    }
}
