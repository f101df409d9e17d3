import CDPDK
import MTCP

/// An engine's clock read from the CPU's time stamp counter, scaled to
/// nanoseconds on the monotonic clock's time line. Reading `clock_gettime` once
/// per loop iteration cost 17% of a busy appliance's samples under `perf`
/// (the vDSO clock of a virtual machine is slow); `rdtsc` is a few cycles.
///
/// One per core, created after EAL's start (which measured the counter's
/// frequency): each core counts from its own base, so counters of different
/// cores need not agree.
struct CycleClock {
    private let baseCycles: UInt64
    private let baseNanoseconds: UInt64
    /// Nanoseconds per cycle as a 32.32 fixed-point number.
    private let scale: UInt64

    /// A clock in step with `MonotonicClock` now; nil when EAL measured no
    /// counter frequency (then the caller keeps `MonotonicClock`).
    init?() {
        let hertz = rte_get_tsc_hz()
        guard hertz > 0 else { return nil }
        scale = UInt64((Double(1_000_000_000) / Double(hertz)) * 4_294_967_296.0)
        baseNanoseconds = MonotonicClock.now().nanoseconds
        baseCycles = mtcp_rdtsc()
    }

    @inline(__always)
    func now() -> Instant {
        let (high, low) = (mtcp_rdtsc() &- baseCycles).multipliedFullWidth(by: scale)
        return Instant(nanoseconds: baseNanoseconds &+ (high << 32 | low >> 32))
    }
}
