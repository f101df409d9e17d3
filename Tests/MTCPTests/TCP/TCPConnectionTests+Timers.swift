import Testing
@testable import MTCP

/// The connection alone against explicit time: retransmission timeouts with
/// backoff (RFC 6298), the persist timer and zero-window probes (RFC 9293
/// §3.8.6.1), the idle timeout and keep-alive (RFC 1122 §4.2.3.6).
@Suite struct TCPConnectionTimerTests {
    typealias Test = ConnectionUnderTest

    @Test func aTimeoutResendsTheOldestSegmentCollapsesTheWindowAndBacksOff() throws {
        let test = Test.established()
        _ = try test.write([UInt8](repeating: 9, count: 3 * 1460))
        #expect(test.output().count == 3)
        let rto = test.connection.rtt.rto
        let deadline = try #require(test.connection.deadlines[.retransmission])
        #expect(test.advance(to: Instant(nanoseconds: deadline.nanoseconds - 1)).isEmpty)
        let sent = test.advance(to: deadline)
        #expect(sent.map(\.sequence) == [Test.ourISS + 1], "one segment: cwnd is one SMSS after a timeout")
        #expect(sent.first?.payload.count == 1460)
        #expect(test.connection.congestion.cwnd == 1460)
        #expect(test.connection.rtt.rto == rto * 2)
        #expect(test.connection.deadlines[.retransmission] == test.now + rto * 2)
        #expect(test.environment.connectionStatistics.timeouts == 1)
    }

    static func threeBytesInFlight(maximumRetransmissions: Int) throws -> ConnectionUnderTest {
        var configuration = TCPConfiguration()
        configuration.maximumRetransmissions = maximumRetransmissions
        let test = Test.established(configuration)
        _ = try test.write([1, 2, 3])
        _ = test.output()
        return test
    }

    @Test func afterTheLastRetransmissionTheConnectionIsResetAndTimedOut() throws {
        let test = try Self.threeBytesInFlight(maximumRetransmissions: 2)
        var last: [Sent] = []
        for _ in 0..<3 {
            let deadline = try #require(test.connection.deadlines[.retransmission])
            last = test.advance(to: deadline)
        }
        #expect(last.map(\.flags) == [[.rst, .ack]])
        #expect(test.connection.error == .timedOut)
        #expect(test.connection.pendingEvents.contains(.error))
        #expect(test.ended)
    }

    @Test func aPeerHeardFromWithinTheRTOIsNotGivenUpOn() throws {
        let test = try Self.threeBytesInFlight(maximumRetransmissions: 1)
        for _ in 0..<3 {
            let deadline = try #require(test.connection.deadlines[.retransmission])
            // A window probe answered just before each timeout: the peer is alive.
            _ = test.advance(to: Instant(nanoseconds: deadline.nanoseconds - 1))
            _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
            _ = test.advance(to: deadline)
        }
        #expect(!test.ended)
        #expect(test.connection.retransmissions == 0)
    }

    @Test func aZeroWindowIsProbedWithBackoff() throws {
        let test = Test.established(peerWindow: 0)
        _ = try test.write([1, 2, 3])
        #expect(test.output().isEmpty)
        let first = try #require(test.connection.deadlines[.persist])
        let probe = test.advance(to: first)
        #expect(probe.map(\.sequence) == [Test.ourISS], "SND.UNA - 1: old, so the peer answers with its window")
        #expect(probe.first?.payload.isEmpty == true)
        #expect(test.environment.connectionStatistics.zeroWindowProbes == 1)
        let second = try #require(test.connection.deadlines[.persist])
        #expect(second.since(first) == test.connection.rtt.rto * 2)
        #expect(test.connection.bytesInFlight == 0, "a probe puts nothing in flight")
    }

    @Test func aZeroWindowProbeDoesNotTakeThePlaceOfADelayedACK() throws {
        // The probe sits below SND.UNA: the peer drops it, ACK field and all, so the
        // data that arrived just before it still needs its own (delayed) ACK.
        var configuration = TCPConfiguration()
        configuration.quickAcks = 0
        let test = Test.established(configuration, peerWindow: 0)
        _ = try test.write([1, 2, 3])
        #expect(test.output().isEmpty)
        let probeAt = try #require(test.connection.deadlines[.persist])
        _ = test.advance(to: Instant(nanoseconds: probeAt.nanoseconds - 10_000_000))
        #expect(test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, window: 0, payload: [7]).isEmpty)
        #expect(test.advance(to: probeAt).map(\.sequence) == [Test.ourISS])
        #expect(test.advance(by: .milliseconds(30)).map(\.acknowledgment) == [Test.peerISS + 2])
    }

    @Test func aWindowTooSmallForSWSAvoidanceIsUsedWhenThePersistTimerFires() throws {
        let test = Test.established(peerWindow: 4000)
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1, window: 100)
        _ = try test.write([UInt8](repeating: 9, count: 1000))
        #expect(test.output().isEmpty, "100 bytes is under half the largest window seen (RFC 9293 §3.8.6.2.1)")
        let deadline = try #require(test.connection.deadlines[.persist])
        #expect(test.advance(to: deadline).map(\.payload.count) == [100])
    }

    @Test func anIdleConnectionTimesOut() throws {
        var configuration = TCPConfiguration()
        configuration.idleTimeout = .seconds(30)
        let test = Test.established(configuration)
        #expect(test.connection.deadlines[.idle] == Instant.zero + .seconds(30))
        #expect(test.advance(to: Instant.zero + .seconds(29)).isEmpty)
        let sent = test.advance(to: Instant.zero + .seconds(30))
        #expect(sent.map(\.flags) == [[.rst, .ack]])
        #expect(test.connection.error == .timedOut)
    }

    /// The harness plays the engine's timer wheel, which follows a deadline only
    /// when the connection asks (`setDeadline`): one moved behind its back still
    /// fires when the wheel had it.
    @Test func aDeadlineChangedWithoutAskingFiresWhenTheWheelHadIt() throws {
        var configuration = TCPConfiguration()
        configuration.idleTimeout = .seconds(30)
        let test = Test.established(configuration)
        test.connection.deadlines[.idle] = Instant.zero + .seconds(60)
        #expect(test.advance(to: Instant.zero + .seconds(30)).map(\.flags) == [[.rst, .ack]])
        #expect(test.connection.error == .timedOut)
    }

    @Test func keepAliveProbesThenGivesUp() throws {
        var configuration = TCPConfiguration()
        configuration.idleTimeout = nil
        configuration.keepAliveIdle = .seconds(10)
        configuration.keepAliveInterval = .seconds(5)
        configuration.keepAliveProbes = 2
        let test = Test.established(configuration)
        let first = test.advance(to: Instant.zero + .seconds(10))
        #expect(first.map(\.sequence) == [Test.ourISS], "an old sequence number, no data")
        #expect(test.advance(to: Instant.zero + .seconds(15)).count == 1)
        let last = test.advance(to: Instant.zero + .seconds(20))
        #expect(last.map(\.flags) == [[.rst, .ack]])
        #expect(test.environment.connectionStatistics.keepAliveProbes == 2)
    }

    @Test func anAnsweredKeepAliveStartsTheIdlePeriodAgain() throws {
        var configuration = TCPConfiguration()
        configuration.idleTimeout = nil
        configuration.keepAliveIdle = .seconds(10)
        configuration.keepAliveInterval = .seconds(5)
        let test = Test.established(configuration)
        _ = test.advance(to: Instant.zero + .seconds(10))
        _ = test.receive(.ack, seq: Test.peerISS + 1, ack: Test.ourISS + 1)
        #expect(test.connection.keepAliveProbes == 0)
        #expect(test.advance(to: Instant.zero + .seconds(19)).isEmpty)
        #expect(test.advance(to: Instant.zero + .seconds(20)).count == 1)
    }

    @Test func endingStopsEveryTimer() throws {
        let test = Test.established()
        _ = try test.write([1])
        _ = test.output()
        _ = test.receive(.rst, seq: Test.peerISS + 1)
        for timer in TCPTimer.allCases { #expect(test.connection.deadlines[timer] == nil) }
        #expect(test.ended)
    }
}
