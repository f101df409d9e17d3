import Glibc
import Synchronization

/// The operator's signals turned into counters: SIGHUP — a reload, prepared by
/// the management thread and then taken by every core (`ConfigurationReloads`);
/// SIGUSR1 — each core reopens its log files (logrotate's convention, as
/// nginx), checked by the engines twice a second. The handlers only increment
/// an atomic, which is async-signal-safe.
public enum ReloadSignal {
    private static let count = Atomic<UInt64>(0)
    private static let reopenCount = Atomic<UInt64>(0)

    /// Installs the handlers for SIGHUP and SIGUSR1.
    public static func install() {
        // A static is initialised lazily on first use (swift_once, which is not
        // async-signal-safe): first use here, never in the handler.
        _ = count.load(ordering: .relaxed)
        _ = reopenCount.load(ordering: .relaxed)
        signal(SIGHUP) { _ in ReloadSignal.count.add(1, ordering: .relaxed) }
        signal(SIGUSR1) { _ in ReloadSignal.reopenCount.add(1, ordering: .relaxed) }
    }

    /// How many reloads were asked for so far (SIGHUP).
    public static var generation: UInt64 { count.load(ordering: .relaxed) }

    /// How many reopenings of the log files were asked for so far (SIGUSR1).
    public static var reopenGeneration: UInt64 { reopenCount.load(ordering: .relaxed) }
}
