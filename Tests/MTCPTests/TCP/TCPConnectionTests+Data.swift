import Testing
@testable import MTCP

/// The connection alone moving data in ESTABLISHED: receiving in and out of
/// order, ACK timing, sending within the peer's and the congestion window, and
/// fast retransmit (RFC 9293 §3.8-3.10, RFC 1122 §4.2.3.2, RFC 5681).
@Suite struct TCPConnectionDataTests {
    typealias Test = ConnectionUnderTest

    // MARK: - Receiving

    @Test func inOrderDataIsAcknowledgedReadableAndRead() throws {
        let test = Test.established()
        let sent = test.receive([.ack, .psh], seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: Array("GET".utf8))
        #expect(sent.map(\.acknowledgment) == [Test.peerISS + 4], "a quick ACK at the start of a connection")
        #expect(sent.first?.window == UInt16(8192 - 3))
        #expect(test.connection.pendingEvents.contains(.readable))
        #expect(try test.read(10) == Array("GET".utf8))
        #expect(throws: SocketError.wouldBlock) { try test.read(10) }
    }

    @Test func theACKOfASmallSegmentIsDelayedUntilTheTimer() throws {
        var configuration = TCPConfiguration()
        configuration.quickAcks = 0
        let test = Test.established(configuration)
        #expect(test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [1]).isEmpty)
        let deadline = try #require(test.connection.deadlines[.delayedAck])
        #expect(deadline == test.now + .milliseconds(40))
        #expect(test.advance(to: Instant(nanoseconds: deadline.nanoseconds - 1)).isEmpty)
        #expect(test.advance(to: deadline).map(\.acknowledgment) == [Test.peerISS + 2])
        #expect(test.environment.connectionStatistics.delayedAcks == 1)
    }

    @Test func anACKCarriedByDataStopsTheDelayedACKTimer() throws {
        // A kept-alive connection: a request, its response carrying the ACK, and the
        // next request 39 ms later waits its own full delay, not the first one's.
        var configuration = TCPConfiguration()
        configuration.quickAcks = 0
        let test = Test.established(configuration)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [1])
        _ = try test.write([2])
        #expect(test.output().map(\.acknowledgment) == [Test.peerISS + 2])
        #expect(test.connection.deadlines[.delayedAck] == nil)
        _ = test.advance(by: .milliseconds(39))
        _ = test.receive(.ack, seq: Test.peerISS + 2, ack: Test.ourISS + 2, payload: [3])
        #expect(test.advance(by: .milliseconds(39)).isEmpty)
        #expect(test.advance(by: .milliseconds(1)).map(\.acknowledgment) == [Test.peerISS + 3])
        #expect(test.environment.connectionStatistics.delayedAcks == 1)
    }

    @Test func everySecondFullSizedSegmentIsAcknowledgedAtOnce() {
        var configuration = TCPConfiguration(receiveBufferSize: 16_384)
        configuration.quickAcks = 0
        let test = Test.established(configuration)
        let full = [UInt8](repeating: 7, count: 1460)
        #expect(test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: full).isEmpty)
        let sent = test.receive(.ack, seq: Test.peerISS + 1461, ack: Test.ourISS + 1, payload: full)
        #expect(sent.map(\.acknowledgment) == [Test.peerISS + 2921], "RFC 5681 §4.2")
    }

    @Test func anOutOfOrderSegmentIsAcknowledgedAtOnceAndHeldUntilTheHoleFills() throws {
        var configuration = TCPConfiguration()
        configuration.quickAcks = 0
        let test = Test.established(configuration)
        let duplicate = test.receive(.ack, seq: Test.peerISS + 4, ack: Test.ourISS + 1, payload: [4, 5, 6])
        #expect(duplicate.map(\.acknowledgment) == [Test.peerISS + 1], "a duplicate ACK for the hole")
        #expect(test.environment.connectionStatistics.outOfOrderSegments == 1)
        #expect(throws: SocketError.wouldBlock) { try test.read(10) }
        let filled = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [1, 2, 3])
        #expect(filled.map(\.acknowledgment) == [Test.peerISS + 7], "filling a hole is acknowledged at once")
        #expect(try test.read(10) == [1, 2, 3, 4, 5, 6])
    }

    /// RFC 5681 §4.2 asks for a duplicate ACK per out-of-order segment; as Linux,
    /// the first three since RCV.NXT last moved go one per segment even within a
    /// burst (a sender without SACK needs three), then segments that only extend
    /// the most recent range share the burst's one ACK. With SACK each tells the
    /// blocks of its moment.
    @Test func aBurstExtendingOneRangeDrawsThreeDuplicateACKsThenOne() {
        let test = Self.sackConnection()
        let hundred = [UInt8](repeating: 9, count: 100)
        // Three ranges after a lost segment, then three segments extending the last.
        let burst = [201, 401, 601, 701, 801, 901].map { (seq: Test.peerISS + UInt32($0), payload: hundred) }
        let sent = test.receiveBurst(burst, ack: Test.ourISS + 1)
        #expect(sent.map(\.acknowledgment) == Array(repeating: Test.peerISS + 1, count: 4))
        #expect(sent.map { $0.options.sackBlocks.first } == [SACKBlock(left: 201, right: 301), SACKBlock(left: 401, right: 501),
                                                             SACKBlock(left: 601, right: 701), SACKBlock(left: 601, right: 1001)]
                .map { SACKBlock(left: Test.peerISS + $0.left, right: Test.peerISS + $0.right) })
        // The hole fills: RCV.NXT moves past the first range, and three more go at once.
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [UInt8](repeating: 1, count: 200))
        let more = [1001, 1101, 1201, 1301, 1401].map { (seq: Test.peerISS + UInt32($0), payload: hundred) }
        #expect(test.receiveBurst(more, ack: Test.ourISS + 1).count == 4)
    }

    /// Past those three, a segment that would push a range the owed ACK has to
    /// report out of the first two SACK blocks (a range of its own, or an older
    /// range extended) has the owed ACK sent first: RFC 2018 §4 reports each
    /// segment's range first, and one ACK for a burst reported only its three
    /// most recent ranges (a kernel sender resent the others as lost).
    @Test func aBurstReportsEveryRangeItTouchesFirstOnce() {
        let test = Self.sackConnection()
        let hundred = [UInt8](repeating: 9, count: 100)
        // Five ranges, then the oldest extended by 50 bytes (not touching the next).
        var burst = [201, 401, 601, 801, 1001].map { (seq: Test.peerISS + UInt32($0), payload: hundred) }
        burst.append((seq: Test.peerISS + 301, payload: [UInt8](repeating: 9, count: 50)))
        let sent = test.receiveBurst(burst, ack: Test.ourISS + 1)
        #expect(sent.map { $0.options.sackBlocks.first.map { $0.left &- Test.peerISS } } == [201, 401, 601, 801, 1001, 201])
        #expect(sent.last?.options.sackBlocks.first == SACKBlock(left: Test.peerISS + 201, right: Test.peerISS + 351))
        // Extending the two most recent ranges alternately needs no ACK of its own.
        let alternating = [(1101, 50), (351, 40), (1151, 50)].map {
            (seq: Test.peerISS + UInt32($0.0), payload: [UInt8](repeating: 9, count: $0.1))
        }
        #expect(test.receiveBurst(alternating, ack: Test.ourISS + 1).count == 1)
    }

    /// The threshold is two blocks: a range of its own when two ranges are held
    /// (the owed ACK's second would fall to third) draws the owed ACK first.
    @Test func aThirdRangeDrawsTheOwedACKFirst() {
        let test = Self.sackConnection()
        let hundred = [UInt8](repeating: 9, count: 100)
        // Two ranges and the three duplicate ACKs, then a range of its own.
        let burst = [201, 401, 451, 501, 701].map { (seq: Test.peerISS + UInt32($0), payload: hundred) }
        let sent = test.receiveBurst(burst, ack: Test.ourISS + 1)
        #expect(sent.map { $0.options.sackBlocks.first.map { $0.left &- Test.peerISS } } == [201, 401, 401, 401, 701])
        #expect(sent.map { $0.options.sackBlocks.count } == [1, 2, 2, 2, 3])
    }

    /// Two duplicates in one burst: the owed ACK carries the first D-SACK
    /// before the second would replace it.
    @Test func eachDuplicateInABurstIsReported() {
        let test = Self.sackConnection()
        let hundred = [UInt8](repeating: 9, count: 100)
        _ = test.receiveBurst([201, 401, 601, 801].map { (seq: Test.peerISS + UInt32($0), payload: hundred) },
                              ack: Test.ourISS + 1)
        let copies = [201, 801].map { (seq: Test.peerISS + UInt32($0), payload: hundred) }
        let sent = test.receiveBurst(copies, ack: Test.ourISS + 1)
        #expect(sent.map { $0.options.sackBlocks.first.map { $0.left &- Test.peerISS } } == [201, 801])
        // Copies of data below RCV.NXT (resent because our ACKs were lost) too.
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [UInt8](repeating: 1, count: 200))
        let below = [1, 101].map { (seq: Test.peerISS + UInt32($0), payload: hundred) }
        let answers = test.receiveBurst(below, ack: Test.ourISS + 1)
        #expect(answers.map { $0.options.sackBlocks.first.map { $0.left &- Test.peerISS } } == [1, 101])
    }

    private static func sackConnection() -> Test {
        var configuration = TCPConfiguration()
        configuration.quickAcks = 0
        return Test.established(configuration, peerOptions: TCPOptions(maximumSegmentSize: 1460, sackPermitted: true))
    }

    @Test func aByteProbingOurClosedWindowIsAnsweredAtOnce() {
        // BSD and Windows probe a zero window with a byte of new data at RCV.NXT
        // (RFC 9293 §3.10.7.4: acceptable, not taken, ACKed at once).
        var configuration = TCPConfiguration(receiveBufferSize: 1460)
        configuration.quickAcks = 0
        let test = Test.established(configuration)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [UInt8](repeating: 1, count: 1460))
        #expect(test.advance(by: .milliseconds(40)).map(\.window) == [0])
        let answer = test.receive(.ack, seq: Test.peerISS + 1461, ack: Test.ourISS + 1, payload: [2])
        #expect(answer.map(\.acknowledgment) == [Test.peerISS + 1461])
        #expect(answer.map(\.window) == [0])
        #expect(test.connection.receive.readable == 1460)
    }

    @Test func aFINBeyondAHoleIsAnsweredWithADuplicateACK() {
        let test = Test.established()
        let sent = test.receive([.ack, .fin], seq: Test.peerISS + 10, ack: Test.ourISS + 1)
        #expect(sent.map(\.acknowledgment) == [Test.peerISS + 1], "RFC 5681 §4.2: out of order, at once")
        #expect(!test.connection.finReceived)
    }

    @Test func aSegmentBeyondTheWindowIsAnsweredWithAnACKAndDropped() {
        let test = Test.established()
        let sent = test.receive(.ack, seq: Test.peerISS + 100_000, ack: Test.ourISS + 1, payload: [1])
        #expect(sent.map(\.acknowledgment) == [Test.peerISS + 1])
        #expect(test.environment.connectionStatistics.outOfWindow == 1)
        #expect(test.connection.receive.readable == 0)
    }

    @Test func bareSegmentsOutOfTheWindowGetOneACKPerInterval() {
        // Two ends that disagree on the sequence space must not trade bare ACKs
        // forever: one answer per 500 ms, as Linux; a segment with data still
        // gets its duplicate ACK at once.
        let test = Test.established()
        let outside = Test.peerISS + 100_000
        #expect(test.receive(.ack, seq: outside, ack: Test.ourISS + 1).map(\.acknowledgment) == [Test.peerISS + 1])
        #expect(test.receive(.ack, seq: outside, ack: Test.ourISS + 1).isEmpty)
        #expect(test.receive(.ack, seq: outside, ack: Test.ourISS + 1, payload: [1]).count == 1)
        // A FIN occupies sequence space too: a retransmitted one whose ACK was lost is answered.
        #expect(test.receive([.ack, .fin], seq: outside, ack: Test.ourISS + 1).count == 1)
        #expect(test.environment.connectionStatistics.droppedSegmentAcksSuppressed == 1)
        _ = test.advance(by: .milliseconds(500))
        #expect(test.receive(.ack, seq: outside, ack: Test.ourISS + 1).count == 1)
    }

    @Test func anOldDuplicateSegmentIsAnsweredWithAnACK() {
        let test = Test.established()
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [1, 2, 3])
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: [1, 2, 3])
        #expect(sent.map(\.acknowledgment) == [Test.peerISS + 4])
        #expect(test.connection.receive.readable == 3, "not taken twice")
    }

    @Test func readingAFullBufferOpensTheWindowWithAnUpdate() throws {
        let test = Test.established()
        let full = [UInt8](repeating: 1, count: 1460)
        for index in 0..<5 {
            _ = test.receive(.ack, seq: Test.peerISS + 1 + UInt32(index * 1460), ack: Test.ourISS + 1, payload: full)
        }
        let before = test.output()
        #expect(before.isEmpty)
        _ = try test.read(8192)
        let update = test.output()
        #expect(update.map(\.flags) == [.ack])
        #expect(update.first?.window == 8192, "the whole buffer is free again")
    }

    @Test func aReadThatLeavesThePeerMostOfTheWindowSendsNoBareUpdate() throws {
        // A request read long before its response goes out (a proxy): the peer is
        // far from the window's edge, and the response will carry the new window.
        let test = Test.established()
        let request = [UInt8](repeating: 1, count: 1000)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, payload: request)
        _ = test.receive(.ack, seq: Test.peerISS + 1001, ack: Test.ourISS + 1, payload: request)
        _ = test.output()
        #expect(try test.read(2000).count == 2000)
        #expect(test.output().isEmpty)
    }

    // MARK: - Sending

    @Test func writtenDataGoesOutAndStartsTheRetransmissionTimer() throws {
        let test = Test.established()
        #expect(try test.write([UInt8](repeating: 9, count: 100)) == 100)
        let sent = test.output()
        #expect(sent.map(\.flags) == [[.ack, .psh]])
        #expect(sent.first?.sequence == Test.ourISS + 1)
        #expect(sent.first?.payload.count == 100)
        #expect(test.connection.deadlines[.retransmission] == test.now + test.connection.rtt.rto)
    }

    @Test func anACKOfAllDataFreesTheBufferAndStopsTheTimer() throws {
        let test = Test.established()
        _ = try test.write([UInt8](repeating: 9, count: 100))
        _ = test.output()
        #expect(test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 101).isEmpty)
        #expect(test.connection.send.count == 0)
        #expect(test.connection.pendingEvents.contains(.writable))
        #expect(test.connection.deadlines[.retransmission] == nil)
    }

    @Test func dataIsCutIntoSegmentsOfThePeersMSS() throws {
        let test = Test.established(peerOptions: TCPOptions(maximumSegmentSize: 536))
        _ = try test.write([UInt8](repeating: 9, count: 1000))
        let sent = test.output()
        #expect(sent.map(\.payload.count) == [536, 464])
        #expect(sent.map(\.sequence) == [Test.ourISS + 1, Test.ourISS + 537])
    }

    @Test func thePeersWindowLimitsWhatIsInFlight() throws {
        let test = Test.established(peerWindow: 300)
        _ = try test.write([UInt8](repeating: 9, count: 1000))
        #expect(test.output().map(\.payload.count) == [300])
        #expect(test.output().isEmpty)
        let more = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 301, window: 1000)
        #expect(more.map(\.payload.count) == [700])
    }

    @Test func aWindowUpdateReleasesDataHeldByAZeroWindow() throws {
        let test = Test.established(peerWindow: 0)
        _ = try test.write([1, 2, 3])
        #expect(test.output().isEmpty)
        #expect(test.connection.deadlines[.persist] != nil, "nothing in flight: only a probe learns of an opening")
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, window: 1000)
        #expect(sent.map(\.payload) == [[1, 2, 3]])
        #expect(test.connection.deadlines[.persist] == nil)
    }

    @Test func anOlderSegmentDoesNotUpdateTheWindow() {
        // SND.WL1/WL2 (RFC 9293 §3.10.7.4): a reordered older segment's window is stale.
        let test = Test.established()
        _ = test.receive(.ack, seq: Test.peerISS + 10, ack: Test.ourISS + 1, window: 5000, payload: [1])
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, window: 100, payload: [1])
        #expect(test.connection.sendWindow == 5000)
    }

    @Test func anACKOfDataNeverSentGetsAChallengeACK() {
        // RFC 5961 §5.2.
        let test = Test.established()
        let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1000)
        #expect(sent.map(\.flags) == [.ack])
        #expect(test.environment.connectionStatistics.challengeAcksSent == 1)
        #expect(test.connection.sendUnacknowledged.rawValue == Test.ourISS + 1)
    }

    @Test func threeDuplicateACKsResendTheOldestSegment() throws {
        let test = Test.established()
        _ = try test.write([UInt8](repeating: 9, count: 4 * 1460))
        #expect(test.output().count == 4)
        for duplicate in 1...3 {
            let sent = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
            #expect(sent.isEmpty == (duplicate < 3))
            if duplicate == 3 {
                #expect(sent.map(\.sequence) == [Test.ourISS + 1])
                #expect(sent.first?.payload.count == 1460)
            }
        }
        #expect(test.connection.inFastRecovery)
        #expect(test.environment.connectionStatistics.fastRetransmits == 1)
    }

    @Test func aSegmentThatFindsNoBufferIsNotCountedAsSent() throws {
        let test = Test.established()
        _ = try test.write([UInt8](repeating: 9, count: 3 * 1460))
        test.environment.buffersLeft = 1
        let sent = test.output()
        #expect(sent.count == 1)
        #expect(test.connection.sendNext.rawValue == Test.ourISS + 1461, "only what left counts as sent")
        #expect(test.connection.deadlines[.retransmission] != nil, "what did leave is timed")
    }

    /// A retransmission timeout that finds no transmit room (the engine's queue
    /// full) counts nothing and leaves SND.NXT at SND.UNA, so the data list
    /// resends the segment when there is room, instead of skipping it.
    @Test func aTimeoutWithoutTransmitRoomLeavesTheResendToTheDataList() throws {
        let test = Test.established()
        _ = try test.write([UInt8](repeating: 9, count: 1460))
        #expect(test.output().count == 1)
        let timeout = try #require(test.connection.deadlines[.retransmission])
        test.environment.buffersLeft = 0
        #expect(test.advance(to: timeout).isEmpty)
        #expect(test.environment.connectionStatistics.retransmittedSegments == 0, "nothing left, nothing counted")
        #expect(test.connection.sendNext.rawValue == Test.ourISS + 1, "the data list starts again from SND.UNA")
        test.environment.buffersLeft = .max
        #expect(test.connection.sendData(now: test.now, &test.environment))
        let resent = test.output()
        #expect(resent.map(\.sequence) == [Test.ourISS + 1])
        #expect(resent.first?.payload.count == 1460)
        #expect(test.environment.connectionStatistics.retransmittedSegments == 1)
    }
}
