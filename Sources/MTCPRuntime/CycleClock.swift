import CDPDK
import MTCP

/// An engine's clock read from the CPU's time stamp counter, scaled to
/// nanoseconds on the monotonic clock's time line. Reading `clock_gettime` once
/// per loop iteration cost 17% of a busy appliance's samples under `perf`
/// (the vDSO clock of a virtual machine is slow); `rdtsc` is a few cycles, and
/// the monotonic clock is read about once a second to re-anchor (`CycleTimeline`).
///
/// One per core, created after EAL's start (which measured the counter's
/// frequency): each core counts from its own base, so counters of different
/// cores need not agree.
struct CycleClock {
    private var timeline: CycleTimeline

    /// A clock in step with `MonotonicClock` now; nil when EAL measured no
    /// counter frequency (then the caller keeps `MonotonicClock`).
    init?() {
        let hertz = rte_get_tsc_hz()
        guard hertz > 0 else { return nil }
        timeline = CycleTimeline(hertz: hertz, cycles: mtcp_rdtsc(), nanoseconds: MonotonicClock.now().nanoseconds)
    }

    @inline(__always)
    mutating func now() -> Instant {
        let cycles = mtcp_rdtsc()
        if timeline.isAnchorDue(at: cycles) {
            timeline.anchor(cycles: cycles, nanoseconds: MonotonicClock.now().nanoseconds)
        }
        return Instant(nanoseconds: timeline.time(at: cycles))
    }
}
