import MTCP

/// How a core's time splits between loop iterations that did work (frames in or
/// out) and iterations that found none, as DPDK's telemetry and VPP count it:
/// each iteration lasts from its start to the next one's, so a back-off sleep
/// counts as idle. Read from the loop's own clock, once per iteration.
struct CoreLoad {
    private(set) var busyNanoseconds: UInt64 = 0
    private(set) var idleNanoseconds: UInt64 = 0
    private var iterationStart: Instant
    private var iterationWorked = false

    init(start: Instant) { iterationStart = start }

    /// A new iteration starts at `now`: the previous one is counted.
    @inline(__always)
    mutating func iterationStarted(at now: Instant) {
        let span = now.nanoseconds &- iterationStart.nanoseconds
        if iterationWorked { busyNanoseconds &+= span } else { idleNanoseconds &+= span }
        iterationStart = now
    }

    /// Whether the current iteration received or sent anything.
    @inline(__always)
    mutating func iterationEnded(worked: Bool) { iterationWorked = worked }
}

extension CoreSnapshot {
    /// The share of time in iterations that did work between `before` and this
    /// snapshot, in percent; nil when no time was counted in between.
    public func busyPercent(since before: CoreSnapshot) -> Double? {
        let busy = busyNanoseconds &- before.busyNanoseconds
        let total = busy &+ (idleNanoseconds &- before.idleNanoseconds)
        return total == 0 ? nil : 100 * Double(busy) / Double(total)
    }

    /// The busy share since the core started, in percent.
    public var busyPercentSinceStart: Double? { busyPercent(since: CoreSnapshot(core: core)) }
}
