import Testing
@testable import MTCP

/// The connection alone through the three-way handshake: LISTEN's SYN,
/// SYN-RECEIVED, SYN-SENT, simultaneous open, option negotiation (RFC 9293 §3.5,
/// §3.10.7.3; RFC 7323; RFC 2018).
@Suite struct TCPConnectionHandshakeTests {
    typealias Test = ConnectionUnderTest

    @Test func aSYNForAListenerIsAnsweredWithASYNACKAtOurISS() throws {
        let (test, sent) = Test.synReceived()
        #expect(test.connection.state == .synReceived)
        let synAck = try #require(sent.first)
        #expect(sent.count == 1)
        #expect(synAck.flags == [.syn, .ack])
        #expect(synAck.sequence == Test.ourISS)
        #expect(synAck.acknowledgment == Test.peerISS + 1)
        #expect(synAck.window == 8192, "the whole receive buffer, unscaled in a SYN (RFC 7323 §2.2)")
        #expect(synAck.options.maximumSegmentSize == 1460)
        #expect(synAck.options.windowScale == nil, "the peer offered none (RFC 7323 §1.3)")
        #expect(!synAck.options.sackPermitted)
        #expect(test.connection.deadlines[.retransmission] == test.now + RTTEstimator.initialRTO)
    }

    @Test func theFinalACKEstablishesAndAdmitsToTheAcceptQueue() {
        let (test, _) = Test.synReceived()
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(sent.isEmpty)
        #expect(test.connection.state == .established)
        #expect(test.environment.admitted == [test.connection.id])
        #expect(test.environment.connectionStatistics.established == 1)
        #expect(test.connection.deadlines[.retransmission] == nil, "nothing left in flight")
    }

    /// A full accept queue ignores the final ACK and the data on it, as Linux
    /// does by default: the connection stays in SYN-RECEIVED with its SYN-ACK
    /// timed, and the peer's next segment establishes it once there is room.
    @Test func aFullAcceptQueueLeavesTheConnectionInSYNReceived() {
        let (test, _) = Test.synReceived()
        test.environment.acceptQueueHasRoom = false
        let request = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        let sent = test.receive([.ack, .psh], seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: request)
        #expect(sent.isEmpty, "no reset, no ACK of the data")
        #expect(test.connection.state == .synReceived)
        #expect(!test.ended)
        #expect(test.connection.receive.readable == 0, "the data waits for the peer to send it again")
        #expect(test.connection.deadlines[.retransmission] != nil, "the SYN-ACK is still timed")
        #expect(test.environment.connectionStatistics.acceptQueueOverflows == 1)

        test.environment.acceptQueueHasRoom = true
        _ = test.advance(by: .milliseconds(300))
        _ = test.receive([.ack, .psh], seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: request)
        #expect(test.connection.state == .established)
        #expect(test.environment.admitted == [test.connection.id])
        #expect(test.connection.receive.readable == request.count)
        #expect(test.connection.rtt.smoothedRTT == nil, "the 300 ms in the full queue are no round trip")
    }

    @Test func aRetransmittedSYNInSYNReceivedGetsTheSYNACKAgain() {
        let (test, _) = Test.synReceived()
        let sent = test.receive(.syn, seq: Test.peerISS, options: TCPOptions(maximumSegmentSize: 1460))
        #expect(sent.map(\.flags) == [[.syn, .ack]])
        #expect(sent.first?.sequence == Test.ourISS)
    }

    @Test func anACKOutsideWhatWeSentInSYNReceivedIsReset() {
        // RFC 9293 §3.10.7.4: SYN-RECEIVED and an unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>.
        let (test, _) = Test.synReceived()
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 5)
        #expect(sent == [Sent(flags: .rst, sequence: Test.ourISS + 5, acknowledgment: nil, window: 0,
                              options: TCPOptions(), payload: [])])
        #expect(test.connection.state == .synReceived)
        #expect(!test.ended)
    }

    @Test func aResetOfAPassiveOpenIsForgottenQuietly() {
        let (test, _) = Test.synReceived()
        let sent = test.receive(.rst, seq: Test.peerISS + 1)
        #expect(sent.isEmpty)
        #expect(test.ended)
        #expect(test.connection.error == nil)
        #expect(test.environment.connectionStatistics.resetsReceived == 1)
    }

    @Test func theSYNACKIsResentWithBackoffThenTheOpenGivesUp() throws {
        var configuration = TCPConfiguration()
        configuration.maximumSYNRetransmissions = 2
        let (test, _) = Test.synReceived(configuration)
        let first = try #require(test.connection.deadlines[.retransmission])
        #expect(test.advance(to: first).map(\.flags) == [[.syn, .ack]])
        let second = try #require(test.connection.deadlines[.retransmission])
        #expect(second.since(first) == RTTEstimator.initialRTO * 2, "backed off (RFC 6298 §5.5)")
        #expect(test.advance(to: second).map(\.flags) == [[.syn, .ack]])
        let third = try #require(test.connection.deadlines[.retransmission])
        let sent = test.advance(to: third)
        #expect(sent.map(\.flags) == [[.rst, .ack]], "a third expiry is one more than allowed")
        #expect(test.ended)
        #expect(test.environment.connectionStatistics.timeouts == 1)
    }

    @Test func anActiveOpenSendsASYNOfferingEveryOption() throws {
        let (test, sent) = Test.synSent()
        let syn = try #require(sent.first)
        #expect(test.connection.state == .synSent)
        #expect(syn.flags == .syn)
        #expect(syn.sequence == Test.ourISS)
        #expect(syn.acknowledgment == nil)
        #expect(syn.options.maximumSegmentSize == 1460)
        #expect(syn.options.windowScale == 0)
        #expect(syn.options.sackPermitted)
        #expect(syn.options.timestamp != nil)
    }

    @Test func aSYNACKCompletesTheActiveOpen() {
        let (test, _) = Test.synSent()
        let sent = test.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 1,
                                options: TCPOptions(maximumSegmentSize: 1200))
        #expect(test.connection.state == .established)
        #expect(test.connection.pendingEvents.contains([.connected, .writable]))
        #expect(sent.map(\.flags) == [.ack])
        #expect(sent.first?.sequence == Test.ourISS + 1)
        #expect(sent.first?.acknowledgment == Test.peerISS + 1)
        #expect(test.connection.sendMSS == 1200)
        #expect(test.connection.deadlines[.retransmission] == nil)
    }

    /// The handshake's round trip is the active opener's first RTT sample, as
    /// it is the passive one's: with timestamps from the echo of our SYN's
    /// TSval, without them from the SYN itself. (It was dropped: the first
    /// RTO stayed at 1 s, and at 2 s after a resent SYN.)
    @Test func aSYNACKGivesTheFirstRTTSample() throws {
        let (timed, sent) = Test.synSent()
        let ours = try #require(sent.first?.options.timestamp)
        _ = timed.advance(by: .milliseconds(30))
        var options = TCPOptions(maximumSegmentSize: 1460)
        options.timestamp = TCPTimestamp(value: 777, echoReply: ours.value)
        _ = timed.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 1, options: options)
        #expect(timed.connection.rtt.smoothedRTT == .milliseconds(30))

        let (untimed, _) = Test.synSent()
        _ = untimed.advance(by: .milliseconds(30))
        _ = untimed.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 1,
                            options: TCPOptions(maximumSegmentSize: 1460))
        #expect(untimed.connection.rtt.smoothedRTT == .milliseconds(30))
    }

    /// After a lost SYN the echo names the resent one: the sample is the true
    /// round trip and the backed-off RTO of the handshake goes with it. Without
    /// timestamps Karn's rule takes no sample from a resent SYN.
    @Test func aSYNACKToAResentSYNIsTimedByItsEcho() throws {
        let (timed, _) = Test.synSent()
        let resent = timed.advance(by: .seconds(1))
        let echo = try #require(resent.first?.options.timestamp)
        #expect(timed.connection.rtt.rto == .seconds(2))
        _ = timed.advance(by: .milliseconds(5))
        var options = TCPOptions(maximumSegmentSize: 1460)
        options.timestamp = TCPTimestamp(value: 777, echoReply: echo.value)
        _ = timed.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 1, options: options)
        #expect(timed.connection.rtt.smoothedRTT == .milliseconds(5))
        #expect(timed.connection.rtt.rto == .milliseconds(200))

        let (untimed, _) = Test.synSent()
        _ = untimed.advance(by: .seconds(1))
        _ = untimed.advance(by: .milliseconds(5))
        _ = untimed.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 1,
                            options: TCPOptions(maximumSegmentSize: 1460))
        #expect(untimed.connection.rtt.smoothedRTT == nil)
        #expect(untimed.connection.rtt.rto == .seconds(3), "RFC 6298 §5.7")
    }

    /// The passive side alike: after a SYN-ACK resent by the timer, an ACK
    /// with no echo gives no sample (Karn) and the data starts at an RTO of
    /// 3 s (RFC 6298 §5.7); one that echoes the resent SYN-ACK is timed by it.
    @Test func theFinalACKAfterAResentSYNACKStartsTheDataAtThreeSecondsUnlessTimed() throws {
        let (untimed, _) = Test.synReceived()
        let resent = untimed.advance(by: .seconds(1))
        #expect(resent.first?.flags == [.syn, .ack])
        #expect(untimed.connection.rtt.rto == .seconds(2))
        _ = untimed.advance(by: .milliseconds(5))
        _ = untimed.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(untimed.connection.state == .established)
        #expect(untimed.connection.rtt.smoothedRTT == nil)
        #expect(untimed.connection.rtt.rto == .seconds(3))

        var offer = TCPOptions(maximumSegmentSize: 1460)
        offer.timestamp = TCPTimestamp(value: 100, echoReply: 0)
        let (timed, _) = Test.synReceived(peerOptions: offer)
        let echo = try #require(timed.advance(by: .seconds(1)).first?.options.timestamp)
        _ = timed.advance(by: .milliseconds(5))
        var options = TCPOptions()
        options.timestamp = TCPTimestamp(value: 101, echoReply: echo.value)
        _ = timed.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, options: options)
        #expect(timed.connection.rtt.smoothedRTT == .milliseconds(5))
        #expect(timed.connection.rtt.rto == .milliseconds(200))
    }

    /// A SYN-ACK resent for the peer's repeated SYN (ours was lost, or slow)
    /// leaves the final ACK ambiguous: without an echo it is no sample (Karn),
    /// where the first SYN-ACK's probe would have timed the resend's answer.
    @Test func theFinalACKAfterASYNACKResentForARepeatedSYNIsNoSample() throws {
        let (test, _) = Test.synReceived()
        _ = test.advance(by: .milliseconds(900))
        let resent = test.receive(.syn, seq: Test.peerISS)
        #expect(resent.first?.flags == [.syn, .ack])
        _ = test.advance(by: .milliseconds(5))
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(test.connection.state == .established)
        #expect(test.connection.rtt.smoothedRTT == nil)
    }

    /// The peer's SYN-ACK echoing `echo` completes a handshake whose SYN timed
    /// out: the sample it gives, and the RTO the data starts at.
    private func handshakeAfterSYNTimeout(_ test: ConnectionUnderTest, echoing echo: UInt32)
        -> (sample: TimeSpan?, rto: TimeSpan) {
        var options = TCPOptions(maximumSegmentSize: 1460)
        options.timestamp = TCPTimestamp(value: 777, echoReply: echo)
        _ = test.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 1, options: options)
        #expect(test.connection.state == .established)
        return (test.connection.rtt.smoothedRTT, test.connection.rtt.rto)
    }

    /// A SYN-ACK that echoes the first SYN after it was resent may answer that
    /// first SYN (on a path slower than the timer) or the resend: it is timed
    /// at most twice the time since the resend but no less than half the time
    /// since the first (here 502 ms: the RTO stays above a one-second round
    /// trip), and not left untimed (the data would start at §5.7's 3 s RTO,
    /// with no loss probe).
    @Test func aSYNACKEchoingAnEarlierSYNIsTimedBetweenTheTwoCopies() throws {
        let (test, sent) = Test.synSent()
        let first = try #require(sent.first?.options.timestamp)
        _ = test.advance(by: .seconds(1))
        _ = test.advance(by: .milliseconds(5))
        let handshake = handshakeAfterSYNTimeout(test, echoing: first.value)
        #expect(handshake.sample == .milliseconds(502))
        #expect(handshake.rto == .milliseconds(1506))
    }

    /// Both ends' timers fire together: our SYN-ACK resent by the timer and
    /// another for the peer's resent SYN, a millisecond apart. The peer's ACK
    /// echoes the first of them and times the path.
    @Test func theFinalACKEchoingTheTimersSYNACKTimesThePath() throws {
        var offer = TCPOptions(maximumSegmentSize: 1460)
        offer.timestamp = TCPTimestamp(value: 100, echoReply: 0)
        let (test, _) = Test.synReceived(peerOptions: offer)
        let byTimer = try #require(test.advance(by: .seconds(1)).first?.options.timestamp)
        _ = test.advance(by: .milliseconds(1))
        offer.timestamp = TCPTimestamp(value: 101, echoReply: 0)
        #expect(test.receive(.syn, seq: Test.peerISS, options: offer).map(\.flags) == [[.syn, .ack]])
        _ = test.advance(by: .milliseconds(19))
        var options = TCPOptions()
        options.timestamp = TCPTimestamp(value: 102, echoReply: byTimer.value)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, options: options)
        #expect(test.connection.state == .established)
        #expect(test.connection.rtt.smoothedRTT == .milliseconds(20))
    }

    /// A SYN timed from a cached RTT that proves short (the path got slower):
    /// it is resent early once, then the default schedule; the SYN-ACK that
    /// answers the first SYN is timed at most twice the time since the resend.
    @Test func aSYNResentEarlyByACachedRTTIsTimedFromTheResend() throws {
        let test = ConnectionUnderTest(TCPConfiguration())
        let seeded = test.connection.rtt.seedHandshakeTimeout(smoothed: .milliseconds(20), variance: .milliseconds(5))
        #expect(seeded)
        test.connection.connect(now: test.now)
        let first = try #require(test.output().first?.options.timestamp)
        #expect(test.advance(by: .milliseconds(200)).map(\.flags) == [.syn], "the seeded timeout")
        #expect(test.connection.rtt.rto == .seconds(1), "then the default schedule")
        _ = test.advance(by: .milliseconds(100))
        let handshake = handshakeAfterSYNTimeout(test, echoing: first.value)
        #expect(handshake.sample == .milliseconds(200))
        #expect(handshake.rto == .milliseconds(600))
    }

    /// A seeded SYN-ACK whose handshake completes with nothing to time (the
    /// ACK came after a full accept queue had refused the first one): the
    /// data starts at 1 s, not at the seed's RTO.
    @Test func aSeededHandshakeWithoutASampleLeavesTheSeedBehind() {
        let test = ConnectionUnderTest(TCPConfiguration())
        let seeded = test.connection.rtt.seedHandshakeTimeout(smoothed: .milliseconds(20), variance: .milliseconds(5))
        #expect(seeded)
        test.connection.acceptSYN(test.segment(.syn, seq: Test.peerISS, options: TCPOptions(maximumSegmentSize: 1460)),
                                  listener: 0, configuration: TCPConfiguration(), now: test.now)
        _ = test.output()
        #expect(test.connection.rtt.rto == .milliseconds(200))
        test.environment.acceptQueueHasRoom = false
        _ = test.advance(by: .milliseconds(20))
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        test.environment.acceptQueueHasRoom = true
        _ = test.advance(by: .milliseconds(50))
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(test.connection.state == .established)
        #expect(test.connection.rtt.smoothedRTT == nil)
        #expect(test.connection.rtt.rto == .seconds(1))
    }

    /// RFC 7323 §4.3: the resent SYN's TSval becomes TS.Recent (its SEQ is
    /// below Last.ACK.sent), so the SYN-ACK sent again for it echoes it and the
    /// peer can time its handshake by the SYN it resent.
    @Test func theSYNACKForAResentSYNEchoesItsTimestamp() throws {
        var offer = TCPOptions(maximumSegmentSize: 1460)
        offer.timestamp = TCPTimestamp(value: 1000, echoReply: 0)
        let (test, sent) = Test.synReceived(peerOptions: offer)
        #expect(sent.first?.options.timestamp?.echoReply == 1000)
        offer.timestamp = TCPTimestamp(value: 1200, echoReply: 0)
        let again = test.receive(.syn, seq: Test.peerISS, options: offer)
        #expect(again.map(\.flags) == [[.syn, .ack]])
        #expect(again.first?.options.timestamp?.echoReply == 1200)
    }

    @Test func aSYNACKForSomethingWeNeverSentIsReset() {
        let (test, _) = Test.synSent()
        let sent = test.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 100)
        #expect(sent.map(\.flags) == [.rst])
        #expect(sent.first?.sequence == Test.ourISS + 100)
        #expect(test.connection.state == .synSent)
    }

    @Test func aResetWithAnAcceptableACKRefusesTheConnection() {
        let (test, _) = Test.synSent()
        #expect(test.receive([.rst, .ack], seq: 0, ack: Test.ourISS + 1).isEmpty)
        #expect(test.connection.state == .closed)
        #expect(test.connection.error == .connectionRefused)
        #expect(test.connection.pendingEvents.contains(.error))
        #expect(test.ended)
    }

    @Test func aResetWithoutACKInSYNSentIsIgnored() {
        // RFC 9293 §3.10.7.3: without an ACK a reset cannot be tied to our SYN.
        let (test, _) = Test.synSent()
        #expect(test.receive(.rst, seq: Test.peerISS).isEmpty)
        #expect(test.connection.state == .synSent)
    }

    @Test func aSYNInSYNSentIsASimultaneousOpen() {
        let (test, _) = Test.synSent()
        let sent = test.receive(.syn, seq: Test.peerISS, options: TCPOptions(maximumSegmentSize: 1460))
        #expect(test.connection.state == .synReceived)
        #expect(sent.map(\.flags) == [[.syn, .ack]])
        #expect(sent.first?.sequence == Test.ourISS)
        #expect(sent.first?.acknowledgment == Test.peerISS + 1)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(test.connection.state == .established)
        #expect(test.connection.pendingEvents.contains(.connected))
    }

    /// The ACK completing a simultaneous open may answer our SYN or the
    /// SYN-ACK that resent its sequence number: without an echo, no sample
    /// (it would have been timed from the SYN, 300 ms too long).
    @Test func theACKCompletingASimultaneousOpenIsNoSample() {
        let (test, _) = Test.synSent()
        _ = test.advance(by: .milliseconds(300))
        _ = test.receive(.syn, seq: Test.peerISS, options: TCPOptions(maximumSegmentSize: 1460))
        _ = test.advance(by: .milliseconds(5))
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(test.connection.state == .established)
        #expect(test.connection.rtt.smoothedRTT == nil)
    }

    @Test func optionsAreUsedOnlyWhenBothSidesOfferThem() {
        let offer = TCPOptions(maximumSegmentSize: 9000, windowScale: 7, sackPermitted: true,
                               timestamp: TCPTimestamp(value: 4242, echoReply: 0))
        let (test, sent) = Test.synReceived(TCPConfiguration(receiveBufferSize: 256 * 1024), peerOptions: offer)
        #expect(test.connection.sendMSS == 1460, "clamped to ours")
        #expect(test.connection.sendWindowShift == 7)
        #expect(test.connection.receiveWindowShift == 3, "262144 >> 2 is one more than 16 bits hold")
        #expect(test.connection.selectiveAcknowledgmentsEnabled)
        #expect(test.connection.timestampsEnabled)
        #expect(sent.first?.options.timestamp?.echoReply == 4242)
        var configuration = TCPConfiguration()
        configuration.timestamps = false
        configuration.selectiveAcknowledgments = false
        let (plain, _) = Test.synReceived(configuration, peerOptions: offer)
        #expect(!plain.connection.timestampsEnabled)
        #expect(!plain.connection.selectiveAcknowledgmentsEnabled)
    }

    /// RFC 7323 §2.3: the smallest shift that lets the 16-bit field cover the
    /// whole receive buffer, at most 14; the boundaries on either side of each step.
    @Test func theWindowScaleIsTheSmallestShiftThatCoversTheReceiveBuffer() {
        let shifts = [8192: 0, 65_535: 0, 65_536: 1, 131_071: 1, 131_072: 2, 262_144: 3, 1 << 30: 14, 1 << 40: 14]
        for (size, shift) in shifts {
            #expect(TCPConfiguration(receiveBufferSize: size).windowScale == UInt8(shift), "\(size) bytes")
        }
    }

    @Test func aSYNWithoutMSSMeans536() {
        let (test, _) = Test.synReceived(peerOptions: TCPOptions())
        #expect(test.connection.sendMSS == 536, "RFC 9293 §3.7.1")
    }

    @Test func aFINWrittenBeforeTheHandshakeFollowsIt() {
        let (test, _) = Test.synSent()
        test.connection.queueFIN(shortFlowThreshold: 0)
        #expect(test.connection.state == .synSent)
        let sent = test.receive([.syn, .ack], seq: Test.peerISS, ack: Test.ourISS + 1,
                                options: TCPOptions(maximumSegmentSize: 1460))
        #expect(test.connection.state == .finWait1)
        #expect(sent.map(\.flags) == [[.fin, .ack]], "the FIN carries the ACK of the SYN-ACK")
        #expect(sent.first?.sequence == Test.ourISS + 1)
    }
}
