/// BBR's model and window (draft-cardwell-iccrg-bbr-congestion-control-00,
/// BBR v1 as Linux runs it): the window follows a model of the path — the
/// bottleneck bandwidth (the largest delivery rate of the last ten rounds) and
/// the round-trip propagation delay (the smallest RTT of the last ten
/// seconds) — instead of halving on every loss. A random loss, which says
/// nothing about congestion, costs a retransmission but not the window; on a
/// path losing a few percent of its packets NewReno and CUBIC shrink to a few
/// segments while BBR keeps the bandwidth-delay product in flight.
///
/// Modes: STARTUP doubles the window per round until the bandwidth stops
/// growing by 25% for three rounds; DRAIN lets the queue that built up go;
/// PROBE_BW keeps two bandwidth-delay products in flight; PROBE_RTT, when the
/// smallest RTT has not been seen again for ten seconds, holds four segments
/// for 200 ms and a round so that queues drain and the delay is measured anew.
///
/// This stack does not pace: sends are clocked by ACKs and bounded by the
/// window alone. So the pacing gains of the draft have no effect and are not
/// kept, and DRAIN aims the window at one bandwidth-delay product (the draft
/// drains by pacing below the bandwidth instead).
///
/// Loss (as Linux's `bbr_set_cwnd_to_recover_or_restore`): fast recovery
/// holds the window to what is in flight plus what each ACK delivers for one
/// round (packet conservation), then lets it grow back; a timeout starts from
/// one segment; the end of either restores the window from before it.
struct BBR: Sendable {
    enum Mode: Sendable { case startup, drain, probeBandwidth, probeRoundTrip }

    /// 2/ln 2: the smallest gain that doubles the delivery rate every round.
    static let startupGain = 2.885
    /// Two bandwidth-delay products in flight in PROBE_BW: room for delayed
    /// and aggregated ACKs, and for finding more bandwidth.
    static let probeBandwidthGain = 2.0
    static let minimumRoundTripWindow = TimeSpan.seconds(10)
    static let probeRoundTripDuration = TimeSpan.milliseconds(200)
    static let minimumWindowSegments = 4
    /// No window target beyond this (1 GiB, past any send buffer): the model's
    /// inputs come from the peer's ACKs, and a hostile peer must not be able to
    /// push the arithmetic past what an Int holds.
    static let largestTarget = 1 << 30
    /// RTT samples longer than this (a segment whose ACK a peer held back) say
    /// nothing about the path's delay, as for the RTO estimator.
    static let longestRoundTrip = TimeSpan.seconds(60)

    // Fields in order of size, so that the state packs into few words.
    /// Bottleneck bandwidth, bytes per second.
    private var bandwidth = WindowedMaximum()
    /// When the round-trip propagation delay was last measured.
    private var minimumRoundTripStamp = Instant.zero
    /// Rounds (of delivery): one ends when a segment sent after it began is delivered.
    private(set) var roundCount = 0
    private var nextRoundDelivered = 0
    /// Bytes delivered so far, as of the last ACK.
    private var delivered = 0
    /// STARTUP's exit: the bandwidth three rounds ago, and rounds since it grew 25%.
    private var fullBandwidth = 0.0
    private var fullBandwidthRounds = 0
    /// The window before a recovery, a timeout or PROBE_RTT, restored after it.
    private var priorWindow = 0
    /// Round-trip propagation delay.
    private(set) var minimumRoundTrip: TimeSpan? = nil
    /// PROBE_RTT ends at this time, once a round has also passed.
    private var probeRoundTripDone: Instant? = nil
    private(set) var mode = Mode.startup
    private var roundStart = false
    private(set) var filledPipe = false
    private var probeRoundTripRoundDone = false
    /// Fast recovery's first round: the window only replaces what is delivered.
    private var packetConservation = false
    /// Between a loss (fast recovery or a timeout) and the end of its repair: a
    /// window saved then keeps the larger one saved before.
    private var inLossRecovery = false

    /// The bandwidth-delay product times `gain`, in bytes; nil until both are measured.
    @inline(__always)
    func bandwidthDelayProduct(gain: Double) -> Int? {
        guard let rtt = minimumRoundTrip, bandwidth.maximum > 0 else { return nil }
        return Int(min(gain * bandwidth.maximum * Double(rtt.nanoseconds) / 1e9, Double(Self.largestTarget)))
    }

    /// One ACK that delivered `newlyDelivered` bytes (`delivered` in all), with
    /// its rate sample if it delivered a sampled segment; `inFlight` is what is
    /// still in the network after it. Updates the model, then the window.
    mutating func onDelivery(_ sample: DeliveryRateSample?, newlyDelivered: Int, delivered: Int, inFlight: Int,
                             now: Instant, cwnd: inout Int, mss: Int, initialWindow: Int) {
        self.delivered = delivered
        roundStart = false
        if let sample {
            if sample.deliveredAtSend >= nextRoundDelivered {
                nextRoundDelivered = delivered
                roundCount += 1
                roundStart = true
                packetConservation = false
            }
            if let rate = sample.bytesPerSecond(minimumInterval: minimumRoundTrip ?? .zero),
               !sample.isApplicationLimited || rate >= bandwidth.maximum {
                bandwidth.update(rate, round: roundCount)
            }
            checkFullPipe(sample)
        }
        if mode == .startup && filledPipe { mode = .drain }
        if mode == .drain, let target = bandwidthDelayProduct(gain: 1), inFlight <= target { mode = .probeBandwidth }
        updateMinimumRoundTrip(sample?.roundTripTime, inFlight: inFlight, now: now, cwnd: &cwnd, mss: mss)
        setWindow(newlyDelivered: newlyDelivered, inFlight: inFlight, cwnd: &cwnd, mss: mss,
                  initialWindow: initialWindow)
    }

    /// Fast recovery begins, with `delivered` bytes delivered so far: packet
    /// conservation for a round from what is in the network.
    mutating func onRecoveryStart(inFlight: Int, delivered: Int, cwnd: inout Int, mss: Int) {
        saveWindow(cwnd)
        inLossRecovery = true
        packetConservation = true
        nextRoundDelivered = delivered
        cwnd = max(inFlight, mss)
    }

    /// A retransmission timeout (the caller drops the window to one segment):
    /// the window before it is saved; the timeout ends the round (as Linux) and
    /// STARTUP's count starts again.
    mutating func onTimeout(cwnd: Int) {
        saveWindow(cwnd)
        inLossRecovery = true
        packetConservation = false
        fullBandwidth = 0
        fullBandwidthRounds = 0
        nextRoundDelivered = delivered
    }

    /// A recovery or a timeout's repair ended: the window comes back.
    mutating func onRecoveryEnd(cwnd: inout Int) {
        packetConservation = false
        inLossRecovery = false
        cwnd = max(cwnd, priorWindow)
    }

    /// Saves the window to restore; within a loss's repair or PROBE_RTT the
    /// one saved before it (larger) is kept, as Linux's bbr_save_cwnd.
    private mutating func saveWindow(_ cwnd: Int) {
        priorWindow = inLossRecovery || mode == .probeRoundTrip ? max(priorWindow, cwnd) : cwnd
    }

    /// STARTUP ends when three rounds in a row did not raise the bandwidth by 25%.
    private mutating func checkFullPipe(_ sample: DeliveryRateSample) {
        guard !filledPipe, roundStart, !sample.isApplicationLimited else { return }
        if bandwidth.maximum >= fullBandwidth * 1.25 {
            fullBandwidth = bandwidth.maximum
            fullBandwidthRounds = 0
            return
        }
        fullBandwidthRounds += 1
        filledPipe = fullBandwidthRounds >= 3
    }

    private mutating func updateMinimumRoundTrip(_ rtt: TimeSpan?, inFlight: Int, now: Instant, cwnd: inout Int,
                                                 mss: Int) {
        let expired = now.since(minimumRoundTripStamp) > Self.minimumRoundTripWindow && minimumRoundTrip != nil
        if let rtt, !(Self.longestRoundTrip < rtt), minimumRoundTrip.map({ rtt <= $0 }) ?? true || expired {
            minimumRoundTrip = rtt
            minimumRoundTripStamp = now
        }
        if expired && mode != .probeRoundTrip {
            saveWindow(cwnd)
            mode = .probeRoundTrip
            probeRoundTripDone = nil
        }
        guard mode == .probeRoundTrip else { return }
        if let done = probeRoundTripDone {
            if roundStart { probeRoundTripRoundDone = true }
            guard probeRoundTripRoundDone, !(now < done) else { return }
            minimumRoundTripStamp = now
            cwnd = max(cwnd, priorWindow)
            mode = filledPipe ? .probeBandwidth : .startup
        } else if inFlight <= Self.minimumWindowSegments * mss {
            probeRoundTripDone = now + Self.probeRoundTripDuration
            probeRoundTripRoundDone = false
            nextRoundDelivered = delivered
        }
    }

    private func setWindow(newlyDelivered: Int, inFlight: Int, cwnd: inout Int, mss: Int, initialWindow: Int) {
        // As Linux's bbr_set_cwnd: conservation or growth, then the floor, then
        // PROBE_RTT's cap (which a window below the floor, after a timeout,
        // must still be raised to).
        let floor = Self.minimumWindowSegments * mss
        if packetConservation {
            cwnd = max(cwnd, inFlight + newlyDelivered)
        } else {
            grow(newlyDelivered: newlyDelivered, cwnd: &cwnd, mss: mss, initialWindow: initialWindow)
        }
        cwnd = max(cwnd, floor)
        if mode == .probeRoundTrip { cwnd = min(cwnd, floor) }
    }

    /// The window towards the model's target: by what is delivered in STARTUP,
    /// at once down to it otherwise.
    private func grow(newlyDelivered: Int, cwnd: inout Int, mss: Int, initialWindow: Int) {
        let gain = switch mode {
        case .startup: Self.startupGain
        case .drain: 1.0
        case .probeBandwidth, .probeRoundTrip: Self.probeBandwidthGain
        }
        // Room for the peer's delayed ACKs: three segments over the model, as
        // Linux; not in DRAIN, which ends once the flight is down to the model.
        let allowance = mode == .drain ? 0 : 3 * mss
        let target = bandwidthDelayProduct(gain: gain).map { $0 + allowance } ?? initialWindow
        if filledPipe {
            cwnd = min(cwnd + newlyDelivered, target)
        } else if cwnd < target || delivered < initialWindow {
            cwnd += newlyDelivered
        }
    }
}
