import Glibc
import Synchronization

/// Says the appliance is ready — the `ready` line on standard output and
/// systemd's READY=1 — once every core's application has started (listeners
/// open, caches built), not when the port comes up or the first core is done:
/// a client (or `systemctl start`) acting on the line before the last core
/// started would meet a core that is not serving yet, or one that then fails.
final class StartupReadiness: Sendable {
    private let cores: Int
    private let started = Atomic<Int>(0)
    private let line: String
    private let state: String
    private let announce: @Sendable (_ line: String, _ state: String) -> Void

    /// `line` is printed and `state` (`READY=1` and its companions) sent to the
    /// service manager when `cores` cores have started, in that order.
    init(cores: Int, line: String, state: String,
         announce: @escaping @Sendable (_ line: String, _ state: String) -> Void = StartupReadiness.announce) {
        self.cores = cores
        self.line = line
        self.state = state
        self.announce = announce
    }

    /// One core's application started; the last one announces the readiness.
    func coreStarted() {
        if started.add(1, ordering: .acquiringAndReleasing).newValue == cores {
            announce(line, state)
        }
    }

    /// Prints `line` (flushed: tests and supervisors wait for it on a pipe), then notifies.
    static func announce(line: String, state: String) {
        print(line)
        fflush(nil)  // all streams: `stdout` itself is a global Swift 6 will not touch
        ServiceNotification.send(state)
    }
}
