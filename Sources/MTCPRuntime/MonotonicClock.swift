import Glibc
import MTCP

/// The engine's clock: CLOCK_MONOTONIC, read once per loop iteration.
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> Instant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Instant(nanoseconds: UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec))
    }
}
