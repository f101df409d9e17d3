/// The arithmetic of `CycleClock`, apart from the hardware so that tests can
/// drive it: counter cycles to nanoseconds on the monotonic clock's time line.
///
/// The counter's rate is first DPDK's estimate (rounded to 10 MHz in virtual
/// machines without CPUID leaf 0x15: up to 0.2% off, seconds an hour). So the
/// caller re-anchors on the monotonic clock every `anchorInterval` cycles (about
/// a second): the offset is reset and the rate re-measured over the interval,
/// which bounds the error to what one interval can gather. The time returned
/// never goes backwards, not even when the counter does (a thread moved to a
/// core whose counter is not in step): then it stands still until re-anchored.
struct CycleTimeline {
    /// Cycles between anchors: about a second at the estimated rate.
    let anchorInterval: UInt64
    private var anchorCycles: UInt64
    private var anchorNanoseconds: UInt64
    /// The last monotonic reading and the counter at that moment: the start of
    /// the interval over which the next anchor measures the rate.
    private var measuredCycles: UInt64
    private var measuredNanoseconds: UInt64
    /// Nanoseconds per cycle as a 32.32 fixed-point number.
    private(set) var scale: UInt64
    private var latest: UInt64

    /// - Parameters: `hertz` the estimated counter rate; `cycles` and
    ///   `nanoseconds` the counter and the monotonic clock read together.
    init(hertz: UInt64, cycles: UInt64, nanoseconds: UInt64) {
        anchorInterval = hertz
        scale = UInt64((1_000_000_000 / Double(hertz)) * 4_294_967_296.0)
        anchorCycles = cycles
        anchorNanoseconds = nanoseconds
        measuredCycles = cycles
        measuredNanoseconds = nanoseconds
        latest = nanoseconds
    }

    /// True when `cycles` calls for a new anchor: an interval passed, or the
    /// counter reads below the anchor.
    @inline(__always)
    func isAnchorDue(at cycles: UInt64) -> Bool {
        cycles < anchorCycles || cycles - anchorCycles >= anchorInterval
    }

    /// Nanoseconds at counter value `cycles`, never less than the last returned.
    @inline(__always)
    mutating func time(at cycles: UInt64) -> UInt64 {
        let elapsed = cycles >= anchorCycles ? cycles - anchorCycles : 0
        let (high, low) = elapsed.multipliedFullWidth(by: scale)
        latest = max(latest, anchorNanoseconds &+ (high << 32 | low >> 32))
        return latest
    }

    /// Re-anchors on the monotonic clock read (`nanoseconds`) together with the
    /// counter (`cycles`). A rate measured over the interval replaces the
    /// estimate when it is plausible (within 5%: a counter that jumped gives
    /// nonsense, and then the offset alone is reset).
    mutating func anchor(cycles: UInt64, nanoseconds: UInt64) {
        if cycles > measuredCycles, nanoseconds > measuredNanoseconds {
            let spanCycles = cycles - measuredCycles
            let spanNanoseconds = nanoseconds - measuredNanoseconds
            if spanNanoseconds >> 32 < spanCycles {  // the quotient fits in 64 bits
                let measured = spanCycles.dividingFullWidth((high: spanNanoseconds >> 32, low: spanNanoseconds << 32))
                    .quotient
                if measured > scale - scale / 20 && measured < scale + scale / 20 { scale = measured }
            }
        }
        measuredCycles = cycles
        measuredNanoseconds = nanoseconds
        anchorCycles = cycles
        // Ahead of the monotonic clock already (the rate was high): stay where
        // we are rather than step back.
        anchorNanoseconds = max(nanoseconds, latest)
    }
}
