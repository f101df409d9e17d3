import Testing
@testable import MTCP

/// The Eifel response (RFC 4015) to a timeout the timestamp echo shows was
/// spurious (RFC 3522): an ACK delayed past the RTO, not a lost segment.
@Suite struct TCPSpuriousTimeoutTests {
    typealias Test = ConnectionUnderTest
    static let segments = 10
    static let peerTSval: UInt32 = 7_000

    /// ESTABLISHED with timestamps (no SACK: no loss probe before the RTO), ten
    /// segments sent at 10 ms and ten more waiting; the RTO has fired and resent
    /// the first. Returns the TSval of the original transmissions, of the
    /// retransmission, and the window before the timeout.
    static func timedOut(_ algorithm: CongestionControl.Algorithm)
        throws -> (test: Test, original: UInt32, resent: UInt32, before: CongestionControl) {
        var configuration = TCPConfiguration()
        configuration.congestionControl = algorithm
        configuration.selectiveAcknowledgments = false
        configuration.sendBufferSize = 64 * 1024
        let offer = TCPOptions(maximumSegmentSize: 1460, timestamp: TCPTimestamp(value: peerTSval, echoReply: 0))
        let (test, synAck) = Test.synReceived(configuration, peerOptions: offer)
        let synAckTSval = try #require(synAck.first?.options.timestamp?.value)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1,
                         options: TCPOptions(timestamp: TCPTimestamp(value: peerTSval + 1, echoReply: synAckTSval)))
        #expect(test.connection.state == .established && test.connection.timestampsEnabled)
        test.connection.listener = -1
        test.connection.ownedByApplication = true
        _ = test.advance(by: .milliseconds(10))
        let size = test.connection.payloadLimit
        _ = try test.write([UInt8](repeating: 5, count: 2 * segments * size))
        let sent = test.output()
        #expect(sent.count == segments && sent.allSatisfy { $0.payload.count == size }, "IW10")
        let original = try #require(sent.first?.options.timestamp?.value)
        let before = test.connection.congestion
        let deadline = try #require(test.connection.deadlines[.retransmission])
        let resentSegments = test.advance(to: deadline)
        #expect(resentSegments.first?.sequence == Test.ourISS + 1)
        let resent = try #require(resentSegments.first?.options.timestamp?.value)
        #expect(test.connection.congestion.cwnd == test.connection.congestion.mss)
        #expect(test.connection.rtt.backoffCount == 1)
        return (test, original, resent, before)
    }

    /// The peer's cumulative ACK of the first segment, echoing `echo`.
    static func acknowledgeFirst(_ test: Test, echo: UInt32) -> [Sent] {
        test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1 + UInt32(test.connection.payloadLimit),
                     options: TCPOptions(timestamp: TCPTimestamp(value: peerTSval + 2, echoReply: echo)))
    }

    @Test(arguments: CongestionControl.Algorithm.allCases)
    func aLateAckOfTheOriginalRestoresTheWindowAndSendsNewData(_ algorithm: CongestionControl.Algorithm) throws {
        let (test, original, _, before) = try Self.timedOut(algorithm)
        _ = test.advance(by: .milliseconds(30))
        let sent = Self.acknowledgeFirst(test, echo: original)
        let stats = test.environment.connectionStatistics
        #expect(stats.spuriousTimeouts == 1)
        #expect(stats.spuriousTimeoutsUndone == 1)
        #expect(test.connection.congestion.ssthresh == before.ssthresh)
        if algorithm == .bbr {
            // BBR's window then grows by what this ACK delivered (STARTUP).
            #expect(test.connection.congestion.cwnd == before.cwnd + test.connection.payloadLimit)
        } else {
            #expect(test.connection.congestion.cwnd == before.cwnd)
        }
        if case .none = test.connection.recovery {} else { Issue.record("still in recovery: \(test.connection.recovery)") }
        #expect(test.connection.rtt.backoffCount == 0, "the backoff ends")
        // The segments after the first are still in flight as first sent:
        // new data follows them, nothing already sent is resent.
        let newData = Test.ourISS + 1 + UInt32(Self.segments * test.connection.payloadLimit)
        #expect(!sent.isEmpty)
        #expect(sent.allSatisfy { $0.payload.isEmpty || $0.sequence >= newData }, "\(sent)")
        #expect(sent.first(where: { !$0.payload.isEmpty })?.sequence == newData)
        #expect(test.connection.sendNext == test.connection.sendMaximum)
    }

    @Test func anAckOfTheRetransmissionIsAGenuineLossAndKeepsTheCollapsedWindow() throws {
        let (test, _, resent, before) = try Self.timedOut(.newReno)
        _ = test.advance(by: .milliseconds(30))
        let sent = Self.acknowledgeFirst(test, echo: resent)
        let stats = test.environment.connectionStatistics
        #expect(stats.spuriousTimeouts == 0 && stats.spuriousTimeoutsUndone == 0)
        #expect(test.connection.congestion.cwnd < before.cwnd)
        #expect(test.connection.congestion.ssthresh < before.ssthresh)
        let firstNew = Test.ourISS + 1 + UInt32(Self.segments * test.connection.payloadLimit)
        let data = sent.filter { !$0.payload.isEmpty }
        #expect(!data.isEmpty && data.allSatisfy { $0.sequence < firstNew }, "go on resending after SND.UNA")
    }

    /// Echoes we never sent: older than any TSval of the data, or from the
    /// future (2^31 ahead, which wraps to "older" than the retransmission).
    @Test(arguments: [UInt32(100_000), UInt32(0x8000_0100)])
    func anEchoThatIsNotOursDoesNotUndo(_ offset: UInt32) throws {
        let (test, original, resent, before) = try Self.timedOut(.newReno)
        let forged = offset == 100_000 ? original &- offset : resent &+ offset
        _ = Self.acknowledgeFirst(test, echo: forged)
        #expect(test.environment.connectionStatistics.spuriousTimeoutsUndone == 0)
        #expect(test.connection.congestion.cwnd < before.cwnd)
    }
}
