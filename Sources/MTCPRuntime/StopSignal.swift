import Glibc
import Synchronization

/// SIGINT/SIGTERM turned into a count the engine loops poll: the handler only
/// adds to an atomic, which is async-signal-safe. The first signal starts the
/// graceful stop (with its drain, `drain_s`); a second one skips what is left
/// of the drain, for an operator who will not wait.
public enum StopSignal {
    private static let signals = Atomic<Int>(0)

    /// Installs the handlers for SIGINT and SIGTERM.
    public static func install() {
        // A static is initialised lazily on first use (swift_once, which is not
        // async-signal-safe): first use here, never in the handler.
        _ = signals.load(ordering: .relaxed)
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { _ in _ = StopSignal.signals.wrappingAdd(1, ordering: .relaxed) }
        }
    }

    @inline(__always)
    public static var isRequested: Bool { signals.load(ordering: .relaxed) > 0 }

    /// Whether the stop goes on without a drain: a second signal came, or the
    /// stop was `request`ed.
    public static var skipsDrain: Bool { signals.load(ordering: .relaxed) > 1 }

    /// Asks the loops to stop at once, without a drain (tests, fatal errors on another core).
    public static func request() { signals.store(2, ordering: .relaxed) }
}
