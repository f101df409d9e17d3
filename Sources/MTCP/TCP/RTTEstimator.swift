/// Round-trip time estimation and the retransmission timeout of one connection,
/// after RFC 6298 ("Computing TCP's Retransmission Timer").
///
/// The estimator is pure arithmetic on `TimeSpan`s: the caller measures a sample
/// (its own clock at the ACK minus the send time or the echoed timestamp) and
/// passes it in; nothing here reads a clock, so tests drive it with exact values.
///
/// **Karn's algorithm is the caller's job** (RFC 6298 §3): a sample must not be
/// taken from a segment that was retransmitted, because its ACK may belong to
/// either transmission. With the TCP timestamp option (RFC 7323 §4) the echoed
/// timestamp names the transmission, so such samples are valid. After a backoff
/// the doubled RTO is kept until a valid sample arrives (RFC 6298 §5 step 5.5 and
/// the note after it): `addSample` then collapses the backoff.
///
/// Deviations from RFC 6298, on purpose:
/// - the default lower bound on the RTO is 200 ms as in Linux (`TCP_RTO_MIN`), not
///   the 1 s of §2.4: with the 1 s floor a lost segment on a sub-millisecond data
///   centre path stalls a short flow for 1000 round trips, which is what this
///   stack exists to avoid. Pass `minimum: .seconds(1)` for the RFC's value.
/// - a sample is clamped to `maximum` first: an RTT longer than the longest RTO
///   cannot change the result, and the clamp keeps the integer arithmetic from
///   overflowing on a bogus timestamp echo.
///
/// A handshake may be timed from the estimate of an earlier connection with
/// the same peer (`seedHandshakeTimeout`, RFC 9040 §5).
///
/// Not done: clearing SRTT/RTTVAR after repeated backoffs (RFC 6298 §5 allows
/// it); the first valid sample after a backoff simply recomputes the RTO.
///
/// All arithmetic is in integer nanoseconds; the divisions by 4 and 8 truncate,
/// which is far below any clock granularity.
public struct RTTEstimator: Sendable {
    /// RFC 6298 §2.1: until a sample is taken the RTO is 1 s.
    public static let initialRTO = TimeSpan.seconds(1)

    /// RFC 6298 §5.7: the RTO to use once data transfer starts after the SYN was
    /// retransmitted by the timer (the 1 s initial RTO proved too short).
    public static let synTimeoutRTO = TimeSpan.seconds(3)

    /// The lower bound on the RTO (RFC 6298 §2.4; see the type's note on 200 ms).
    public let minimum: TimeSpan
    /// The upper bound on the RTO and on backoff (RFC 6298 §2.5 allows one of at least 60 s).
    public let maximum: TimeSpan
    /// The clock granularity G of RFC 6298 §2: the variance term never drops below it,
    /// so a perfectly steady path still leaves one timer tick of slack.
    public let granularity: TimeSpan

    /// SRTT, or nil before the first sample.
    public private(set) var smoothedRTT: TimeSpan?
    /// RTTVAR, or nil before the first sample.
    public private(set) var rttVariance: TimeSpan?
    /// Whether the handshake's first timeout came from `seedHandshakeTimeout`.
    public private(set) var startedFromSeed = false
    /// The retransmission timeout to arm the timer with, backoff included.
    public private(set) var rto: TimeSpan
    /// How many times the timer has been backed off since the last valid sample.
    /// The caller compares it with its retry limit to give up on a connection.
    public private(set) var backoffCount: Int = 0

    /// - Parameters:
    ///   - minimum: lower bound on the RTO; 200 ms by default (Linux), 1 s in RFC 6298 §2.4.
    ///   - maximum: upper bound on the RTO and on exponential backoff (RFC 6298 §2.5: ≥ 60 s).
    ///   - granularity: the granularity of the timer that will run the RTO (G).
    public init(minimum: TimeSpan = .milliseconds(200),
                maximum: TimeSpan = .seconds(60),
                granularity: TimeSpan = .milliseconds(1)) {
        precondition(minimum <= maximum, "RTTEstimator: minimum RTO above maximum")
        self.minimum = minimum
        self.maximum = maximum
        self.granularity = granularity
        self.rto = min(max(Self.initialRTO, minimum), maximum)
    }

    /// Feeds one RTT measurement R (RFC 6298 §2.2 for the first, §2.3 for later ones)
    /// and recomputes the RTO, which also ends any backoff.
    ///
    /// First sample: SRTT = R, RTTVAR = R/2.
    /// Later samples, RTTVAR first because it uses the old SRTT:
    /// RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R
    /// (alpha = 1/8, beta = 1/4 as the RFC recommends).
    public mutating func addSample(_ rtt: TimeSpan) {
        let r = min(rtt, maximum).nanoseconds
        if let srtt = smoothedRTT?.nanoseconds, let rttvar = rttVariance?.nanoseconds {
            let error = srtt > r ? srtt - r : r - srtt
            rttVariance = TimeSpan(nanoseconds: (3 * rttvar + error) / 4)
            smoothedRTT = TimeSpan(nanoseconds: (7 * srtt + r) / 8)
        } else {
            smoothedRTT = TimeSpan(nanoseconds: r)
            rttVariance = TimeSpan(nanoseconds: r / 2)
        }
        backoffCount = 0
        rto = computedRTO
    }

    /// Times the SYN or SYN-ACK from another connection's estimate with the
    /// same peer (RFC 9040 §5, `PeerRTTCache`): RTO = SRTT + max(G, 4 RTTVAR)
    /// within the bounds, used only when below the 1 s of RFC 6298 §2.1. Only
    /// the RTO is taken: SRTT stays nil until this connection's own first
    /// sample, so nothing else (loss probes, RACK, a data RTO) runs on another
    /// connection's figures. Returns whether the seed was used.
    public mutating func seedHandshakeTimeout(smoothed: TimeSpan, variance: TimeSpan) -> Bool {
        guard smoothedRTT == nil, backoffCount == 0 else { return false }
        let seeded = clamped(min(smoothed, maximum) + max(granularity, min(variance, maximum) * 4))
        guard seeded < rto else { return false }
        rto = seeded
        startedFromSeed = true
        return true
    }

    /// RFC 6298 §5.5 for a SYN or SYN-ACK. A seed's early timeout is one try
    /// before the default schedule: the next waits 1 s and the doubling goes on
    /// from there, so a seed that proves short costs one needless resend, and a
    /// handshake started from one gives up no sooner (it is allowed one resend
    /// more).
    public mutating func handshakeBackOff() {
        guard seededTimeoutPending else { return backOff() }
        backoffCount = 1
        rto = clamped(Self.initialRTO)
    }

    /// The handshake completed without a sample and without a timeout (the ACK
    /// echoed nothing we could time): a seeded RTO goes back to RFC 6298's 1 s,
    /// so the seed never times data.
    public mutating func handshakeCompletedWithoutSample() {
        guard seededTimeoutPending else { return }
        rto = clamped(Self.initialRTO)
    }

    /// The RTO is still the seed's: not yet expired, and no sample since.
    private var seededTimeoutPending: Bool { startedFromSeed && smoothedRTT == nil && backoffCount == 0 }

    /// RFC 6298 §5.5: the timer expired, so the next RTO is twice the last, up to
    /// `maximum`. Stays backed off until `addSample` (Karn: only a sample from a
    /// segment sent once, or timestamped, may end it).
    @inline(__always)
    public mutating func backOff() {
        backoffCount += 1
        rto = min(rto + rto, maximum)
    }

    /// RFC 6298 §5.7: call when the handshake completes if the SYN (or SYN-ACK) had
    /// to be retransmitted by the timer. The RTO becomes at least 3 s for the start
    /// of the data transfer, without backoff; the next valid sample recomputes it.
    public mutating func handshakeCompletedAfterSYNTimeout() {
        backoffCount = 0
        rto = clamped(max(smoothedRTT == nil ? Self.initialRTO : computedRTO, Self.synTimeoutRTO))
    }

    /// RFC 6298 §2.3: RTO = SRTT + max(G, K*RTTVAR) with K = 4, then §2.4/§2.5 bounds.
    private var computedRTO: TimeSpan {
        guard let srtt = smoothedRTT, let rttvar = rttVariance else { return clamped(Self.initialRTO) }
        return clamped(srtt + max(granularity, rttvar * 4))
    }

    @inline(__always)
    private func clamped(_ value: TimeSpan) -> TimeSpan {
        min(max(value, minimum), maximum)
    }
}
