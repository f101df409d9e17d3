import Testing
@testable import MTCP

/// The connection alone through the ways a connection ends: FIN-WAIT-1/2,
/// CLOSING, TIME-WAIT, CLOSE-WAIT, LAST-ACK, and the reset of an unread close
/// (RFC 9293 §3.6, figures 12 and 13; RFC 2525 §2.17).
@Suite struct TCPConnectionCloseTests {
    typealias Test = ConnectionUnderTest

    static func withTimeWait() -> TCPConfiguration {
        var configuration = TCPConfiguration()
        configuration.timeWait = .seconds(60)
        return configuration
    }

    @Test func anActiveCloseGoesThroughFINWait1And2IntoTimeWaitThenEnds() throws {
        let test = Test.established(Self.withTimeWait())
        let fin = test.close()
        #expect(fin.map(\.flags) == [[.fin, .ack]])
        #expect(fin.first?.sequence == Test.ourISS + 1)
        #expect(test.connection.state == .finWait1)
        #expect(test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 2).isEmpty)
        #expect(test.connection.state == .finWait2)
        let ack = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 2)
        #expect(ack.map(\.flags) == [.ack])
        #expect(ack.first?.acknowledgment == Test.peerISS + 2)
        #expect(test.connection.state == .timeWait)
        let end = try #require(test.connection.deadlines[.retransmission])
        #expect(end == test.now + .seconds(60))
        #expect(!test.ended)
        #expect(test.advance(to: end).isEmpty)
        #expect(test.ended)
        #expect(test.environment.connectionStatistics.closed == 1)
    }

    @Test func withoutTimeWaitThePeersFINIsAcknowledgedAsTheConnectionEnds() {
        let test = Test.established()
        _ = test.close()
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 2)
        let sent = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 2)
        #expect(sent.map(\.flags) == [.ack], "the ACK must not die with the connection")
        #expect(test.ended)
        #expect(test.connection.state == .closed)
    }

    @Test func aFINThatAlsoAcknowledgesOursGoesStraightToTimeWait() {
        let test = Test.established(Self.withTimeWait())
        _ = test.close()
        _ = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 2)
        #expect(test.connection.state == .timeWait)
    }

    @Test func bothClosingAtOnceGoThroughClosing() {
        let test = Test.established(Self.withTimeWait())
        _ = test.close()
        let sent = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(test.connection.state == .closing, "their FIN crossed ours (RFC 9293 figure 13)")
        #expect(sent.first?.acknowledgment == Test.peerISS + 2)
        _ = test.receive(.ack, seq: Test.peerISS + 2, ack: Test.ourISS + 2)
        #expect(test.connection.state == .timeWait)
    }

    @Test func aRetransmittedFINInTimeWaitIsAcknowledgedAgain() {
        let test = Test.established(Self.withTimeWait())
        _ = test.close()
        _ = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 2)
        let sent = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 2)
        #expect(sent.map(\.flags) == [.ack])
        #expect(sent.first?.acknowledgment == Test.peerISS + 2)
        #expect(test.connection.state == .timeWait)
    }

    @Test func aResetInTimeWaitEndsItQuietly() {
        let test = Test.established(Self.withTimeWait())
        _ = test.close()
        _ = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 2)
        #expect(test.receive(.rst, seq: Test.peerISS + 2).isEmpty)
        #expect(test.ended)
        #expect(test.connection.error == nil)
    }

    @Test func aPassiveCloseGoesThroughCloseWaitAndLastAck() throws {
        let test = Test.established()
        let ack = test.receive([.fin, .ack], seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(ack.first?.acknowledgment == Test.peerISS + 2)
        #expect(test.connection.state == .closeWait)
        #expect(test.connection.pendingEvents.contains([.readable, .peerClosed]))
        #expect(try test.read(10).isEmpty, "end of stream")
        // The application may still write in CLOSE-WAIT.
        #expect(try test.write([1, 2, 3]) == 3)
        let fin = test.close()
        #expect(fin.map(\.flags) == [[.ack, .psh, .fin]], "the FIN rides on the last data")
        #expect(test.connection.state == .lastAck)
        _ = test.receive(.ack, seq: Test.peerISS + 2, ack: Test.ourISS + 5)
        #expect(test.ended)
        #expect(test.environment.connectionStatistics.closed == 1)
    }

    @Test func closingWithUnreadDataResets() {
        let test = Test.established()
        _ = test.receive([.ack, .psh], seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [1, 2, 3])
        let sent = test.close()
        #expect(sent.map(\.flags) == [[.rst, .ack]], "RFC 2525 §2.17")
        #expect(sent.first?.acknowledgment == Test.peerISS + 4)
        #expect(test.ended)
        #expect(test.environment.connectionStatistics.resetsSent == 1)
    }

    @Test func writingAfterOurFINFails() {
        let test = Test.established()
        _ = test.close()
        #expect(throws: SocketError.closedForWriting) { try test.write([1]) }
    }

    @Test func theFINIsRetransmittedOnTimeout() throws {
        let test = Test.established()
        _ = test.close()
        let deadline = try #require(test.connection.deadlines[.retransmission])
        let sent = test.advance(to: deadline)
        #expect(sent.map(\.flags) == [[.fin, .ack]])
        #expect(sent.first?.sequence == Test.ourISS + 1)
        #expect(test.environment.connectionStatistics.retransmittedSegments == 1)
    }

    @Test func closingAnEndedConnectionReturnsItsHandle() {
        let test = Test.established()
        _ = test.receive(.rst, seq: Test.peerISS + 1)
        #expect(test.connection.error == .connectionReset)
        #expect(test.connection.ownedByApplication, "kept until the application closes its handle")
        test.connection.close(now: test.now, &test.environment)
        #expect(test.connection.requests == .handleReturned, "freed at once: nothing to send, already ended")
        #expect(!test.connection.ownedByApplication)
    }
}
