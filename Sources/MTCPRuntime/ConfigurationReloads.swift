import Glibc
import Synchronization

/// A reload's way from SIGHUP to the cores. The management thread notices the
/// signal (`ReloadSignal`), has the new configuration read and checked once,
/// off the data path (the `prepare` the application gave the runtime), and
/// only when it is accepted publishes a new generation; each core compares
/// that generation with the one it runs between two iterations and, when it
/// moved, calls its application's `reload`. A refused reload changes nothing.
public enum ConfigurationReloads {
    private static let accepted = Atomic<UInt64>(0)
    private static let doneCount = Atomic<UInt64>(0)
    private static let refusedCount = Atomic<UInt64>(0)

    /// The last reload accepted: what the cores should be running.
    static var generation: UInt64 { accepted.load(ordering: .acquiring) }
    /// The reloads since start: accepted, and refused (a file did not parse or
    /// could not be used, or a key that needs a restart changed).
    public struct Counts: Sendable, Equatable {
        public var done: UInt64 = 0
        public var refused: UInt64 = 0

        public init(done: UInt64 = 0, refused: UInt64 = 0) {
            self.done = done
            self.refused = refused
        }
    }

    public static var counts: Counts {
        Counts(done: doneCount.load(ordering: .relaxed), refused: refusedCount.load(ordering: .relaxed))
    }

    /// On the management thread: when SIGHUP came since `seen`, prepares the
    /// reload once (however many signals came) and publishes it if accepted.
    /// `prepare` returns true to accept; without one every reload is accepted.
    static func answerSignal(seen: inout UInt64, prepare: (@Sendable () -> Bool)?) {
        let requested = ReloadSignal.generation
        guard requested != seen else { return }
        seen = requested
        guard prepare?() ?? true else {
            refusedCount.add(1, ordering: .relaxed)
            return
        }
        doneCount.add(1, ordering: .relaxed)
        accepted.add(1, ordering: .releasing)
    }
}

/// One core's side of the reloads: the generation it runs, which an operator
/// compares with the one published (`mtcp_configuration_generation`), and the
/// reloads it could not take. A core that fails keeps running its previous
/// configuration whole and says so; the next SIGHUP tries again.
struct CoreReloadState: Sendable {
    /// The last generation this core answered (applied or not).
    private var seen: UInt64
    /// The generation this core runs.
    private(set) var applied: UInt64
    private(set) var failures: UInt64 = 0

    init(generation: UInt64) {
        seen = generation
        applied = generation
    }

    /// A generation published since the last call, if any (then it counts as answered).
    mutating func newGeneration(published: UInt64 = ConfigurationReloads.generation) -> UInt64? {
        guard published != seen else { return nil }
        seen = published
        return published
    }

    mutating func succeeded(_ generation: UInt64) { applied = generation }

    /// Counts the failure and returns the line for the log.
    mutating func failed(_ generation: UInt64, _ error: any Error) -> String {
        failures += 1
        return "reload to configuration \(generation) failed, still running configuration \(applied): \(error)"
    }
}
