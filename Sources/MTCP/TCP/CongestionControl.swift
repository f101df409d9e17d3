/// The congestion window of one connection and the algorithm that moves it: the
/// seam between the TCP sender and NewReno, CUBIC or BBR.
///
/// A plain struct with the algorithm's state inline in an enum payload, chosen
/// once by configuration: no classes, no `any`, no allocation, so the sender can
/// keep it inside its TCB and call it per ACK. Sizes are in bytes; time is passed in.
///
/// The sender calls:
/// - `onAck` for every ACK that acknowledges new data outside fast recovery;
/// - `onDuplicateAcksEnterRecovery` on the third duplicate ACK (RFC 5681 §3.2 step 2),
///   then `onDuplicateAckInRecovery` for each further duplicate, `onPartialAck` for
///   ACKs below the recovery point and `onRecoveryExit` for the one that covers it
///   (RFC 6582 §3.2); with SACK only the entry and the exit (RFC 6675 §5). The
///   recovery point ("recover", a sequence number) and the retransmissions
///   themselves are the sender's; this type only moves windows.
/// - `onRetransmissionTimeout` when the retransmission timer fires;
/// - `onIdle` before sending after a pause.
///
/// Slow start and fast recovery are shared by NewReno and CUBIC; they differ in
/// congestion avoidance and in how far they reduce on a loss (see `NewReno` and
/// `Cubic`). BBR sets the window from its model of the path instead, on every
/// ACK that delivers data (`onDelivery`), and takes the loss events only to
/// hold the window for a round and restore it afterwards (see `BBR`).
public struct CongestionControl: Sendable {
    /// Which algorithm grows and cuts the window.
    public enum Algorithm: Sendable, Hashable, CaseIterable {
        /// RFC 5681 + RFC 6582: additive increase of one SMSS per RTT, halving on loss.
        case newReno
        /// RFC 9438: window a cubic function of the time since the last loss; 0.7 on loss.
        case cubic
        /// draft-cardwell-iccrg-bbr-congestion-control-00 (BBR v1): the window
        /// from the path's bottleneck bandwidth and round-trip time, not from loss.
        case bbr
    }

    enum State: Sendable {
        case newReno(NewReno)
        case cubic(Cubic)
        case bbr(BBR)
    }

    /// The sender's maximum segment size (SMSS), in bytes.
    public let mss: Int
    /// The initial window IW in bytes, also the restart window's upper bound.
    public let initialWindow: Int
    /// The congestion window in bytes.
    public private(set) var cwnd: Int
    /// The slow-start threshold in bytes; `Int.max` until the first congestion event
    /// (RFC 5681 §3.1 allows "arbitrarily high").
    public private(set) var ssthresh: Int = .max
    /// Between the third duplicate ACK and the ACK that covers the recovery point.
    public private(set) var inRecovery = false
    var state: State

    /// - Parameters:
    ///   - algorithm: NewReno, CUBIC or BBR.
    ///   - mss: the sender's SMSS in bytes (> 0).
    ///   - initialWindowSegments: IW in segments. With 10, RFC 6928:
    ///     IW = min(10*MSS, max(2*MSS, 14600)); the general form used is
    ///     min(n*MSS, max(2*MSS, n*1460)), so small MSSes get n segments and jumbo
    ///     MSSes do not get n jumbo segments.
    public init(algorithm: Algorithm, mss: Int, initialWindowSegments: Int = 10) {
        precondition(mss > 0 && initialWindowSegments > 0, "CongestionControl: MSS and IW must be positive")
        self.mss = mss
        initialWindow = min(initialWindowSegments * mss, max(2 * mss, initialWindowSegments * 1460))
        cwnd = initialWindow
        switch algorithm {
        case .newReno: state = .newReno(NewReno())
        case .cubic: state = .cubic(Cubic())
        case .bbr: state = .bbr(BBR())
        }
    }

    public var algorithm: Algorithm {
        switch state {
        case .newReno: .newReno
        case .cubic: .cubic
        case .bbr: .bbr
        }
    }

    /// In slow start (RFC 5681 §3.1: cwnd < ssthresh).
    @inline(__always)
    public var inSlowStart: Bool { cwnd < ssthresh }

    /// An ACK that acknowledged `ackedBytes` of new data, outside fast recovery
    /// (ignored in recovery: there the sender calls `onPartialAck` / `onRecoveryExit`).
    ///
    /// Slow start: cwnd += acked per ACK, every acknowledged byte counted, as RFC
    /// 9002 §7.3.1 does and Linux has since 2015, not RFC 5681 eq. (2)'s
    /// min(acked, SMSS). A receiver that takes a burst in one poll (our own stack,
    /// or any with GRO/LRO) acknowledges it with one stretch ACK: at one SMSS per
    /// ACK, IW10 acknowledged at once grew to 11 segments instead of 20, and a
    /// 32 KiB response took a round trip more than from Linux (the `loss`
    /// benchmark, issue 17). Byte counting still ignores ACK division, and the
    /// growth stays bounded by what was in flight. cwnd stops at ssthresh; the
    /// following ACKs are congestion avoidance.
    ///
    /// The window grows only while it limits the sender (RFC 9438 §5.8, RFC 7661's
    /// motivation): not when `applicationLimited`, and not when the data in flight
    /// before this ACK left room — in slow start when it was at most half of cwnd,
    /// in congestion avoidance when another full segment would still have fitted.
    /// Otherwise an idle or receiver-limited connection would build a window it
    /// never tested and later burst it into the network.
    ///
    /// - Parameters:
    ///   - ackedBytes: bytes newly acknowledged by this ACK.
    ///   - now: the engine's time at this ACK (CUBIC's clock).
    ///   - rtt: the smoothed RTT if known (CUBIC aims one RTT ahead).
    ///   - inFlightBeforeAck: bytes outstanding just before this ACK arrived.
    ///   - applicationLimited: the sender had nothing more to send.
    public mutating func onAck(ackedBytes: Int, now: Instant, rtt: TimeSpan?, inFlightBeforeAck: Int,
                               applicationLimited: Bool = false) {
        guard !inRecovery, ackedBytes > 0 else { return }
        if case .bbr = state { return }
        if cwnd < ssthresh {
            guard !applicationLimited, 2 * inFlightBeforeAck > cwnd else { return }
            cwnd = min(cwnd + ackedBytes, ssthresh)
            return
        }
        let cwndLimited = !applicationLimited && inFlightBeforeAck + mss > cwnd
        switch state {
        case .newReno(var reno):
            guard cwndLimited else { return }
            reno.congestionAvoidance(cwnd: &cwnd, ackedBytes: ackedBytes, mss: mss)
            state = .newReno(reno)
        case .cubic(var cubic):
            if cwndLimited {
                cubic.congestionAvoidance(cwnd: &cwnd, ackedBytes: ackedBytes, mss: mss, now: now, rtt: rtt)
            } else {
                cubic.endEpoch()
            }
            state = .cubic(cubic)
        case .bbr:
            break
        }
    }

    /// Every ACK that delivered data, cumulatively or by SACK, in or out of
    /// recovery: BBR's model and window move here; NewReno and CUBIC ignore it.
    /// - Parameters:
    ///   - sample: the delivery rate sample this ACK completed, if any.
    ///   - newlyDelivered: bytes this ACK delivered.
    ///   - delivered: bytes delivered on the connection so far.
    ///   - inFlight: bytes still in the network after this ACK.
    @inline(__always)
    mutating func onDelivery(_ sample: DeliveryRateSample?, newlyDelivered: Int, delivered: Int, inFlight: Int,
                             now: Instant) {
        guard case .bbr(var bbr) = state else { return }
        bbr.onDelivery(sample, newlyDelivered: newlyDelivered, delivered: delivered, inFlight: inFlight, now: now,
                       cwnd: &cwnd, mss: mss, initialWindow: initialWindow)
        state = .bbr(bbr)
    }

    /// The third duplicate ACK (RFC 5681 §3.2 steps 2–3, RFC 6582 §3.2 step 2):
    /// sets ssthresh, then cwnd = ssthresh + 3*SMSS for the three segments that
    /// the duplicates show have left the network. The caller records `recover`
    /// (the highest sequence number sent) and retransmits the first unacknowledged
    /// segment. Ignored if already in recovery (RFC 6582 §3.2 step 1: no new
    /// recovery until the old one ends).
    ///
    /// NewReno: ssthresh = max(FlightSize/2, 2*SMSS) (RFC 5681 eq. (4)).
    /// CUBIC: ssthresh = max(cwnd * 0.7, 2*SMSS) and W_max updated (RFC 9438 §4.6, §4.7).
    ///
    /// - Parameter now: unused by both algorithms today (CUBIC's epoch starts at the
    ///   first ACK of congestion avoidance, RFC 9438 §4.2); kept so the sender's
    ///   call does not change when an algorithm needs the time of the event.
    /// With `sack`, the sender counts the segments that left the network in its
    /// pipe estimate instead (RFC 6675 §5 (4.2)): cwnd = ssthresh, not inflated,
    /// and partial ACKs do not deflate it (the sender does not call `onPartialAck`).
    /// For BBR, `flightSize` is what is in the network (RFC 6675's pipe) and
    /// `delivered` the bytes delivered so far, where its conservation round starts.
    public mutating func onDuplicateAcksEnterRecovery(flightSize: Int, now: Instant, sack: Bool = false,
                                                      delivered: Int = 0) {
        guard !inRecovery else { return }
        inRecovery = true
        switch state {
        case .newReno(var reno):
            reno.reset()
            ssthresh = NewReno.ssthreshAfterLoss(flightSize: flightSize, mss: mss)
            state = .newReno(reno)
        case .cubic(var cubic):
            ssthresh = cubic.ssthreshAfterLoss(cwnd: cwnd, mss: mss)
            state = .cubic(cubic)
        case .bbr(var bbr):
            // No ssthresh: the window holds what is in flight for a round.
            bbr.onRecoveryStart(inFlight: flightSize, delivered: delivered, cwnd: &cwnd, mss: mss)
            state = .bbr(bbr)
            return
        }
        cwnd = sack ? ssthresh : ssthresh + 3 * mss
    }

    /// A further duplicate ACK in fast recovery (RFC 5681 §3.2 step 4, RFC 6582
    /// §3.2 step 4): one more segment has left the network, so cwnd is inflated by
    /// SMSS to let a new segment go out.
    @inline(__always)
    public mutating func onDuplicateAckInRecovery() {
        guard inRecovery, !isModelBased else { return }
        cwnd += mss
    }

    /// An ACK of new data that does not reach the recovery point (RFC 6582 §3.2
    /// step 5): deflate cwnd by the amount acknowledged, then add back one SMSS if
    /// at least one SMSS was acknowledged, so that about ssthresh worth of data
    /// stays in flight once recovery ends. The caller retransmits the next hole.
    /// cwnd never drops below one SMSS, so that retransmission can be sent.
    public mutating func onPartialAck(ackedBytes: Int) {
        guard inRecovery, !isModelBased else { return }
        var window = max(cwnd - ackedBytes, 0)
        if ackedBytes >= mss { window += mss }
        cwnd = max(window, mss)
    }

    /// The ACK that covers the recovery point (RFC 6582 §3.2 step 3, option 1):
    /// cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS), FlightSize being what is
    /// still outstanding after this ACK. Option 2 (cwnd = ssthresh) would release a
    /// burst of up to ssthresh at once when little is left in flight; option 1
    /// leaves a short remainder to slow start back up to ssthresh instead.
    public mutating func onRecoveryExit(flightSize: Int) {
        guard inRecovery else { return }
        inRecovery = false
        if isModelBased { return onTimeoutRecoveryEnd() }
        cwnd = min(ssthresh, max(flightSize, mss) + mss)
    }

    /// An ACK reached the point the last retransmission timeout set (SND.MAX
    /// when it fired): BBR restores the window from before it, as at the end
    /// of fast recovery.
    public mutating func onTimeoutRecoveryEnd() {
        guard case .bbr(var bbr) = state else { return }
        bbr.onRecoveryEnd(cwnd: &cwnd)
        state = .bbr(bbr)
    }

    /// BBR: the window comes from the model (fed by delivery rate samples), not
    /// from NewReno's inflation and deflation.
    @inline(__always)
    var isModelBased: Bool {
        if case .bbr = state { return true }
        return false
    }

    /// The retransmission timer fired (RFC 5681 §3.1 eq. (4) and the loss window):
    /// ssthresh = max(FlightSize/2, 2*SMSS) for NewReno, max(cwnd*0.7, 2*SMSS) for
    /// CUBIC (RFC 9438 §4.8), cwnd = 1*SMSS, recovery abandoned; CUBIC's next epoch
    /// starts with K = 0; BBR keeps no ssthresh and saves the window to restore.
    ///
    /// ssthresh is left as it is when `repeated` (RFC 5681 §3.1: the segment was
    /// already retransmitted by the timer, and the FlightSize of a collapsed window
    /// says nothing about the path) and when the timeout interrupts fast recovery,
    /// whose entry already reduced ssthresh for this congestion event (as Linux:
    /// reducing again would halve twice for one loss episode, and the inflated
    /// recovery cwnd is no measure of the path either).
    ///
    /// - Parameters:
    ///   - flightSize: bytes outstanding when the timer fired.
    ///   - now: unused today, as in `onDuplicateAcksEnterRecovery`.
    ///   - repeated: the timer fired again for a segment it already retransmitted.
    public mutating func onRetransmissionTimeout(flightSize: Int, now: Instant, repeated: Bool = false) {
        let newThreshold = !repeated && !inRecovery
        switch state {
        case .newReno(var reno):
            reno.reset()
            if newThreshold { ssthresh = NewReno.ssthreshAfterLoss(flightSize: flightSize, mss: mss) }
            state = .newReno(reno)
        case .cubic(var cubic):
            if newThreshold {
                ssthresh = cubic.ssthreshAfterTimeout(cwnd: cwnd, mss: mss)
            } else {
                cubic.timeoutRepeated()
            }
            state = .cubic(cubic)
        case .bbr(var bbr):
            bbr.onTimeout(cwnd: cwnd)
            state = .bbr(bbr)
        }
        cwnd = mss
        inRecovery = false
    }

    /// Call before sending when the connection may have been idle (RFC 5681 §4.1):
    /// if nothing was sent for longer than one RTO, the ACK clock is gone and cwnd
    /// drops to the restart window RW = min(IW, cwnd) so the sender does not burst
    /// a stale window into the network. ssthresh is kept, so the sender slow-starts
    /// back to where it was. CUBIC restarts its epoch. Returns whether the restart
    /// applied.
    ///
    /// - Parameters:
    ///   - lastSend: when the sender last transmitted data.
    ///   - now: the engine's time now.
    ///   - rto: the current retransmission timeout.
    @discardableResult
    public mutating func onIdle(since lastSend: Instant, now: Instant, rto: TimeSpan) -> Bool {
        guard now.since(lastSend) > rto else { return false }
        cwnd = min(cwnd, initialWindow)
        switch state {
        case .newReno(var reno):
            reno.reset()
            state = .newReno(reno)
        case .cubic(var cubic):
            cubic.endEpoch()
            state = .cubic(cubic)
        case .bbr:
            break
        }
        return true
    }
}
