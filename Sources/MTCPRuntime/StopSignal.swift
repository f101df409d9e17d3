import Glibc
import Synchronization

/// SIGINT/SIGTERM turned into a flag the engine loops poll: the handler only
/// stores to an atomic, which is async-signal-safe.
public enum StopSignal {
    private static let requested = Atomic<Bool>(false)

    /// Installs the handlers for SIGINT and SIGTERM.
    public static func install() {
        // A static is initialised lazily on first use (swift_once, which is not
        // async-signal-safe): first use here, never in the handler.
        _ = requested.load(ordering: .relaxed)
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { _ in StopSignal.requested.store(true, ordering: .relaxed) }
        }
    }

    @inline(__always)
    public static var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Asks the loops to stop (tests, fatal errors on another core).
    public static func request() { requested.store(true, ordering: .relaxed) }
}
