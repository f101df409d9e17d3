import Glibc
import MTCP
import MTCPRuntime
import Synchronization

/// One second of a run, for the progress line and the JSON series.
struct SecondSample: Sendable, Equatable {
    /// Seconds since the first core started (the end of this second).
    var second: Int
    /// Whether the warm-up was still going on during this second.
    var warmup: Bool
    var completed: Int
    var errors: Int
    var bytesRead: Int
    var openConnections: Int
}

/// A thread that prints a progress line each second (completed, rate,
/// errors, open connections) and keeps the per-second series. It reads the
/// board only, never the cores' state.
final class ProgressReporter: Sendable {
    private let board: LoadBoard
    private let quiet: Bool
    private let stopped = Atomic<Bool>(false)
    private let samples = Mutex<[SecondSample]>([])
    private let thread = Mutex<pthread_t?>(nil)

    init(board: LoadBoard, quiet: Bool) {
        self.board = board
        self.quiet = quiet
    }

    func start() {
        let launched = ThreadLaunch.detached { [self] in run() }
        thread.withLock { $0 = launched }
    }

    /// Ends the thread and returns the series.
    func stop() -> [SecondSample] {
        stopped.store(true, ordering: .relaxed)
        if let launched = thread.withLock({ $0 }) { ThreadLaunch.join(launched) }
        return samples.withLock { $0 }
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
            let measuring = board.times.measuring
            let counts = (total.completed + total.warmup, total.errors.total)
            let previousCounts = (previous.completed + previous.warmup, previous.errors.total)
            let sample = SecondSample(second: second, warmup: measuring.map { due <= $0 } ?? true,
                                      completed: counts.0 - previousCounts.0, errors: counts.1 - previousCounts.1,
                                      bytesRead: total.bytesRead - previous.bytesRead,
                                      openConnections: total.openConnections)
            samples.withLock { $0.append(sample) }
            if !quiet {
                print("  \(second)s\(sample.warmup ? " (warm-up)" : ""): \(sample.completed) responses/s, "
                    + "\(sample.errors) errors/s, \(counts.0) done, \(total.errors.total) errors, "
                    + "\(total.openConnections) open")
                fflush(nil)
            }
            previous = total
            second += 1
        }
    }
}
