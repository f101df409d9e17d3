import Glibc

/// The state and arithmetic of CUBIC (RFC 9438) beyond what it shares with Reno:
/// the cubic window function for congestion avoidance, the Reno-friendly
/// estimate, multiplicative decrease by beta_cubic and fast convergence.
///
/// As in the RFC, windows here are in segments (Double, cwnd / SMSS) and time in
/// seconds; `CongestionControl` keeps cwnd in bytes. Double arithmetic costs a few
/// nanoseconds once per ACK, never per byte.
///
/// Not implemented: HyStart (slow start is Reno's, RFC 9438 §4.10 allows it), the
/// undo of spurious fast retransmits (§4.9; a spurious timeout is undone by
/// restoring the whole `CongestionControl`, CUBIC's state with it), ECN reductions.
struct Cubic: Sendable {
    /// RFC 9438 §5.1: C = 0.4 (segments / second³).
    static let c = 0.4
    /// RFC 9438 §4.6: beta_cubic = 0.7, the window kept after a congestion event.
    static let beta = 0.7
    /// RFC 9438 §4.3: alpha_cubic = 3 (1 - beta) / (1 + beta), so that the
    /// Reno-friendly estimate has Reno's average rate despite the gentler decrease.
    static let alphaReno = 3 * (1 - beta) / (1 + beta)

    /// W_max: the window (segments) just before the last reduction, possibly lowered
    /// by fast convergence; 0 before the first congestion event and after a timeout,
    /// where the epoch starts with K = 0 and W_max = cwnd_epoch (§4.8).
    var wMax: Double = 0
    /// cwnd_prior: cwnd (segments) when ssthresh was last set; alpha_cubic switches to
    /// 1 once W_est reaches it (§4.3).
    var cwndPrior: Double = 0
    /// K in seconds: when W_cubic returns to W_max (RFC 9438 eq. (2)).
    var k: Double = 0
    /// W_est: the Reno-friendly estimate, in segments (§4.3).
    var wEst: Double = 0
    /// The fraction of a byte of cwnd growth not applied yet (concave/convex increments
    /// are often a few bytes per ACK and would otherwise be truncated away).
    var carry: Double = 0
    /// The start of the current congestion-avoidance epoch, nil until the first
    /// ACK in congestion avoidance after a congestion event, idle or app-limited period.
    var epochStart: Instant?
    /// Fast convergence (RFC 9438 §4.7), on by default as the RFC recommends.
    /// (Declared last with the other small fields so the struct packs tightly.)
    var fastConvergence = true

    /// RFC 9438 eq. (1): W_cubic(t) = C (t - K)³ + W_max, in segments.
    @inline(__always)
    static func window(at t: Double, k: Double, wMax: Double) -> Double {
        let d = t - k
        return c * d * d * d + wMax
    }

    /// RFC 9438 eq. (2): K = cbrt((W_max - cwnd_epoch) / C), 0 when the epoch
    /// starts at or above W_max (the curve is then convex from the start).
    @inline(__always)
    static func k(wMax: Double, cwndEpoch: Double) -> Double {
        wMax > cwndEpoch ? cbrt((wMax - cwndEpoch) / c) : 0
    }

    /// Ends the current epoch; the next ACK in congestion avoidance starts a new one
    /// from the cwnd of that moment.
    ///
    /// Called after a congestion event, after an idle restart and while the sender
    /// is not cwnd-limited: the curve is a function of time, and letting time run
    /// while the window is not in use would let cwnd jump when the sender resumes.
    /// Restarting at a point on the concave curve yields the same curve (K shrinks
    /// by the elapsed time), so this costs nothing there.
    @inline(__always)
    mutating func endEpoch() { epochStart = nil }

    /// RFC 9438 §4.6 and §4.7 on a congestion event detected by duplicate ACKs.
    /// Returns the new ssthresh in bytes.
    ///
    /// ssthresh = cwnd * beta_cubic, from cwnd as Linux does rather than from the
    /// FlightSize the RFC prefers; the RFC allows cwnd when the sender does not let
    /// cwnd grow while application-limited, which `CongestionControl.onAck` ensures.
    /// Computed in integers (cwnd * 7 / 10) so 0.7 * W_max is exact in bytes.
    mutating func ssthreshAfterLoss(cwnd: Int, mss: Int) -> Int {
        let w = Double(cwnd) / Double(mss)
        // §4.7: a flow that lost before regaining its previous W_max releases
        // bandwidth to newer flows by remembering a lower maximum.
        wMax = fastConvergence && w < wMax ? w * (1 + Self.beta) / 2 : w
        cwndPrior = w
        endEpoch()
        return max(cwnd * 7 / 10, 2 * mss)
    }

    /// RFC 9438 §4.8: a timeout reduces ssthresh by beta_cubic like a loss, and the
    /// first congestion-avoidance epoch afterwards starts with K = 0 and
    /// W_max = cwnd_epoch, so `wMax` is forgotten here.
    mutating func ssthreshAfterTimeout(cwnd: Int, mss: Int) -> Int {
        cwndPrior = Double(cwnd) / Double(mss)
        wMax = 0
        endEpoch()
        return max(cwnd * 7 / 10, 2 * mss)
    }

    /// The window after a timeout without a new ssthresh (a repeated timeout):
    /// only the epoch restarts.
    mutating func timeoutRepeated() {
        wMax = 0
        endEpoch()
    }

    /// One ACK in congestion avoidance (RFC 9438 §4.2–§4.5). Grows `cwnd` (bytes).
    ///
    /// - `rtt`: the smoothed RTT, used to aim at W_cubic(t + RTT) (§4.2); nil
    ///   before the first sample is treated as 0.
    mutating func congestionAvoidance(cwnd: inout Int, ackedBytes: Int, mss: Int, now: Instant, rtt: TimeSpan?) {
        let segment = Double(mss)
        let w = Double(cwnd) / segment
        let start: Instant
        if let epochStart {
            start = epochStart
        } else {
            // §4.2: a new epoch begins at the first ACK of congestion avoidance.
            start = now
            epochStart = now
            if wMax < w { wMax = w }   // §4.8 after a timeout; also a cwnd above W_max
            k = Self.k(wMax: wMax, cwndEpoch: w)
            wEst = w                   // §4.3: W_est starts at cwnd_epoch
            carry = 0
        }
        let t = Double(now.since(start).nanoseconds) / 1e9
        let acked = Double(ackedBytes) / segment

        // §4.3: Reno-friendly estimate, W_est += alpha * segments_acked / cwnd, with
        // alpha = 1 once W_est has reached the window of the last congestion event.
        let alpha = wEst >= cwndPrior ? 1.0 : Self.alphaReno
        wEst += alpha * acked / w

        if Self.window(at: t, k: k, wMax: wMax) < wEst {
            // Reno-friendly region: CUBIC would be slower than Reno here, so it
            // follows the estimate instead (never shrinking cwnd).
            let target = Int((wEst * segment).rounded(.up))
            if target > cwnd { cwnd = target }
            carry = 0
            return
        }
        // §4.2: aim one RTT ahead, but no lower than cwnd and no higher than 1.5 cwnd
        // (the clamp bounds the burst after a long gap between ACKs).
        let ahead = t + Double((rtt ?? .zero).nanoseconds) / 1e9
        let target = min(max(Self.window(at: ahead, k: k, wMax: wMax), w), 1.5 * w)
        // §4.4/§4.5: cwnd += (target - cwnd) / cwnd per SMSS acknowledged, in bytes.
        let growth = (target - w) / w * acked * segment + carry
        let whole = growth.rounded(.down)
        carry = growth - whole
        cwnd += Int(whole)
    }
}
