import MTCP

/// When each request of an open-loop run is meant to start: a constant total
/// rate over all cores, each core taking every N-th slot of the common
/// sequence (core k: slots k, k+N, k+2N, ...), so the cores' arrivals
/// interleave evenly instead of bunching.
///
/// Latency is measured from these intended starts, not from when a request
/// actually left: a server that stalls delays the requests behind the stall,
/// and that delay is part of what users would have seen. Measuring from the
/// actual send would drop it (coordinated omission; wrk2 corrects it the same way).
struct OpenLoopSchedule: Sendable {
    let start: Instant
    /// Requests per second over all cores.
    let rate: Double
    let core: Int
    let cores: Int

    /// The intended start of this core's `index`-th request. Computed from
    /// the index, not accumulated, so rounding never drifts.
    func intendedStart(of index: Int) -> Instant {
        let slot = Double(index) * Double(cores) + Double(core)
        return start + TimeSpan(nanoseconds: UInt64((slot * 1e9 / rate).rounded()))
    }
}
