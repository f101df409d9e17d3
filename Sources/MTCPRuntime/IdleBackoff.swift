import Glibc
import MTCP
import MTCPDPDK

/// The idle policy of an engine's loop, adaptive as DPDK's power-management
/// samples and VPP's adaptive mode are: an engine that moved frames (received
/// or sent, including what timers and the application sent) or has output
/// waiting for ring room within the last `spinWindow` keeps polling, since a
/// round trip is most likely in flight and a sleep would be added to its
/// latency; only an engine idle for longer sleeps, starting short and doubling
/// up to `maximumSleepMicroseconds`, and never past the next moment a TCP timer
/// can fire, so a sleep does not make timers late. On a port with receive
/// interrupts (`idle = interrupt`, `interruptDriven`) the sleep is a wait on the
/// queue's interrupt instead, ended by the first frame; elsewhere sleeping is
/// the only way an idle appliance gets close to no CPU.
///
/// Idle time is counted from the end of the last iteration that had work, so a
/// slow iteration is followed by the full spin window rather than a sleep. That
/// end is the next iteration's start (an iteration with work is followed at
/// once by the next), so the loop reads the clock once per iteration; and the
/// next timer's time is asked for only when the loop is about to sleep.
///
/// Once the engine has had nothing to do for `yieldAfter`, an empty poll yields
/// the CPU rather than spinning on it: when another thread is runnable on the
/// same core (the other end of the round trip, the kernel's softirq thread), it
/// runs at once instead of after the scheduler's time slice; with nothing else
/// runnable the yield returns at once. Shorter gaps, as between the bursts of a
/// loaded engine, are polled through: a yield is a system call, and one on every
/// empty poll cost a fifth of the short-flow rate over memif (303k against 384k
/// requests/s, `scripts/bench.sh --only short`, 2026-12-03).
///
/// The decision (`next`) is a pure function of the iteration's outcome and the
/// time passed in; `perform` carries it out.
public struct IdleBackoff: Sendable {
    /// What the loop does before its next iteration.
    public enum Action: Equatable, Sendable {
        /// Poll again at once: this iteration had work.
        case poll
        /// Give way to any other runnable thread on this core, then poll.
        case yield
        /// Idle for longer than the spin window: sleep this long.
        case sleep(microseconds: UInt32)
    }

    /// How long after the last work the loop keeps polling before it sleeps.
    public let spinWindow: TimeSpan
    /// How long after the last work empty polls spin before they yield.
    public let yieldAfter: TimeSpan
    /// The first sleep after the spin window.
    public let minimumSleepMicroseconds: UInt32
    /// The longest sleep; 0 never sleeps (busy polling).
    public let maximumSleepMicroseconds: UInt32
    private var lastWork: Instant?
    /// Whether the previous iteration had work: it ended when this one started.
    private var previousHadWork = false
    private var nextSleepMicroseconds: UInt32

    /// The defaults keep an idle appliance near 1% of a core (a wake-up per
    /// millisecond costs mostly the context switch) and are far longer than a
    /// round trip over a veth, so a loaded engine never sleeps.
    public init(spinWindow: TimeSpan = .microseconds(500), yieldAfter: TimeSpan = .microseconds(20),
                minimumSleepMicroseconds: UInt32 = 50, maximumSleepMicroseconds: UInt32 = 1000) {
        self.spinWindow = spinWindow
        self.yieldAfter = yieldAfter
        self.minimumSleepMicroseconds = min(minimumSleepMicroseconds, maximumSleepMicroseconds)
        self.maximumSleepMicroseconds = maximumSleepMicroseconds
        nextSleepMicroseconds = self.minimumSleepMicroseconds
    }

    /// Never sleeps (`--busy-poll`, the load generator): lowest latency, and a
    /// core at 100% whatever the load.
    public static var busyPoll: IdleBackoff { IdleBackoff(maximumSleepMicroseconds: 0) }

    /// Waiting on receive interrupts: past the spin window, each `sleep` is
    /// one wait on the queue's interrupt, until a frame, the next timer or
    /// `longestWaitMicroseconds`, after which the loop looks at its signals,
    /// its application's own deadlines and its statistics.
    public static var interruptDriven: IdleBackoff {
        IdleBackoff(minimumSleepMicroseconds: longestWaitMicroseconds, maximumSleepMicroseconds: longestWaitMicroseconds)
    }

    /// The longest wait on a receive interrupt: also how late a stop or reload
    /// signal taken by another thread, or an application deadline that is no
    /// TCP timer, may be seen by an idle engine.
    public static let longestWaitMicroseconds: UInt32 = 100_000

    /// The action after an iteration that started at `now`, received `received`
    /// frames, sent `sent` frames and left output waiting for ring room
    /// (`outputPending`); any of these is work. `nextTimer` gives the earliest
    /// time a timer can fire (nil when none is armed): a sleep ends by then.
    @inline(__always)
    public mutating func next(now: Instant, received: Int, sent: Int, outputPending: Bool,
                              nextTimer: @autoclosure () -> Instant?) -> Action {
        if previousHadWork { lastWork = now }
        if received > 0 || sent > 0 || outputPending {
            previousHadWork = true
            nextSleepMicroseconds = minimumSleepMicroseconds
            return .poll
        }
        previousHadWork = false
        let idle = lastWork.map { now.since($0) }
        if let idle, idle < yieldAfter { return .poll }
        guard maximumSleepMicroseconds > 0 else { return .yield }
        if let idle, idle < spinWindow { return .yield }
        let sleep = nextSleepMicroseconds
        nextSleepMicroseconds = min(sleep * 2, maximumSleepMicroseconds)
        guard let nextTimer = nextTimer() else { return .sleep(microseconds: sleep) }
        guard nextTimer > now else { return .yield }
        // Rounded up, so the loop wakes at or after the timer's moment, not just before it.
        let untilTimer = (nextTimer.since(now).nanoseconds + 999) / 1_000
        return .sleep(microseconds: UInt32(min(UInt64(sleep), untilTimer)))
    }

    /// Carries out `action` on the calling thread; a sleep waits on
    /// `interrupts` when given (rounded up to DPDK's milliseconds).
    @inline(__always)
    public static func perform(_ action: Action, interrupts: ReceiveInterrupts? = nil) {
        switch action {
        case .poll: break
        case .yield: sched_yield()
        case .sleep(let microseconds):
            if let interrupts {
                interrupts.wait(milliseconds: Int32((microseconds + 999) / 1000))
            } else {
                usleep(microseconds)
            }
        }
    }
}
