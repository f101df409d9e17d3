import Glibc
import Synchronization

/// SIGHUP turned into a counter the engines look at once a second: each core
/// reloads what it cached from disk (the HTTP server's files) when the count
/// moved. The handler only increments an atomic, which is async-signal-safe.
public enum ReloadSignal {
    private static let count = Atomic<UInt64>(0)

    /// Installs the handler for SIGHUP.
    public static func install() {
        // A static is initialised lazily on first use (swift_once, which is not
        // async-signal-safe): first use here, never in the handler.
        _ = count.load(ordering: .relaxed)
        signal(SIGHUP) { _ in ReloadSignal.count.add(1, ordering: .relaxed) }
    }

    /// How many reloads were asked for so far.
    public static var generation: UInt64 { count.load(ordering: .relaxed) }
}
