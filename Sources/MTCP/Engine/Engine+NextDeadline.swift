extension Engine {
    /// A lower bound on when the next TCP timer can fire, nil when none is armed:
    /// the wheel fires timers only at its tick boundaries, so while any timer is
    /// armed the next boundary after `now` is a safe wake-up time for a caller that
    /// wants to sleep. O(1): far timers make it early, never late.
    public func nextTimerBoundary(after now: Instant) -> Instant? {
        guard tcp.timers.scheduledCount > 0 else { return nil }
        let start = tcp.timers.start
        guard now >= start else { return start }
        let tick = tcp.timers.granularity.nanoseconds
        return start + TimeSpan(nanoseconds: (now.since(start).nanoseconds / tick + 1) * tick)
    }
}
