import Glibc
import MTCP
import MTCPRuntime
import Synchronization

/// A thread that prints a progress line each second (completed, rate,
/// errors, open connections), for a person watching: from the counts the
/// cores publish every 100 ms, so a line can be that late. The exact
/// per-second series of the report comes from the cores' `SecondBins`. It
/// reads the board only, never the cores' state.
final class ProgressReporter: Sendable {
    private let board: LoadBoard
    private let quiet: Bool
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)

    init(board: LoadBoard, quiet: Bool) {
        self.board = board
        self.quiet = quiet
    }

    func start() {
        let launched = ThreadLaunch.detached { [self] in run() }
        thread.withLock { $0 = launched }
    }

    /// Ends the thread.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        if let launched = thread.withLock({ $0 }) { ThreadLaunch.join(launched) }
    }

    private func run() {
        // The clock starts with the first core (EAL and port start-up before it are not the run's).
        var origin: Instant?
        while origin == nil {
            if stopped.load(ordering: .relaxed) { return }
            origin = board.times.started
            usleep(10_000)
        }
        var previous = LoadCounts()
        var second = 1
        while !stopped.load(ordering: .relaxed) {
            let due = origin! + .seconds(UInt64(second))
            let now = MonotonicClock.now()
            if now < due {
                usleep(UInt32(min(due.since(now).nanoseconds / 1000, 50_000)))
                continue
            }
            let total = board.total
            let warmup = board.times.measuring.map { due <= $0 } ?? true
            let done = total.completed + total.warmup
            if !quiet {
                print("  \(second)s\(warmup ? " (warm-up)" : ""): "
                    + "\(done - previous.completed - previous.warmup) responses/s, "
                    + "\(total.errors.total - previous.errors.total) errors/s, \(done) done, "
                    + "\(total.errors.total) errors, \(total.openConnections) open")
                fflush(nil)
            }
            previous = total
            second += 1
        }
    }
}
