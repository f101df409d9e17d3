import Synchronization

/// Tells the service manager the appliance is ready once every core's
/// application has started (listeners open, caches built), not when the port
/// comes up: a core that fails to start after READY=1 would have made
/// `systemctl start` report success for a service that then exits.
final class StartupReadiness: Sendable {
    private let cores: Int
    private let started = Atomic<Int>(0)
    private let state: String
    private let send: @Sendable (String) -> Void

    /// `state` is sent (`READY=1` and its companions) when `cores` cores started.
    init(cores: Int, state: String,
         send: @escaping @Sendable (String) -> Void = { ServiceNotification.send($0) }) {
        self.cores = cores
        self.state = state
        self.send = send
    }

    /// One core's application started; the last one sends the readiness.
    func coreStarted() {
        if started.add(1, ordering: .acquiringAndReleasing).newValue == cores {
            send(state)
        }
    }
}
