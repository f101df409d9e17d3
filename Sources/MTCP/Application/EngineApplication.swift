/// What runs on each core beside the stack, written against the socket and
/// event API: it opens its listeners or connections in `start`, then takes each
/// iteration's batch of events in `handle` (typically one `wait` on its event
/// poll). The runtime makes one instance per core, on that core's thread.
///
/// The device is declared once, at the type (`struct Server<Device: PacketDevice>:
/// EngineApplication`), so the application's methods take a `SocketContext<Device>`
/// without a generic clause each; the runtime specialises the whole type for its
/// device (no existential, nothing looked up at run time).
public protocol EngineApplication: ~Copyable, SendableMetatype {
    /// The packet device of the engine the application runs on.
    associatedtype Device: PacketDevice
    mutating func start(_ context: inout SocketContext<Device>) throws
    mutating func handle(_ context: inout SocketContext<Device>)
    /// The first step of a graceful stop with a drain (`drain_s`): go on
    /// accepting and serving, but tell health checkers that this instance is
    /// going away, so a load balancer stops sending it new work before
    /// `stopAccepting` refuses any. By default nothing.
    mutating func startDraining(_ context: inout SocketContext<Device>)
    /// The step of a graceful stop (SIGINT/SIGTERM) after the drain, if any:
    /// stop taking new work. By default the listening sockets are closed.
    mutating func stopAccepting(_ context: inout SocketContext<Device>)
    /// Whether the application has nothing left to finish. By default: when it
    /// holds no sockets.
    func isFinished(_ context: borrowing SocketContext<Device>) -> Bool
    /// The application's own counters (requests, handshakes, ...), in the same
    /// order every time, for the statistics board. By default: none.
    func counters() -> [ApplicationCounter]
    /// The operator asked for a reload (SIGHUP): re-read what was cached from
    /// disk. The runtime's core loop calls it within a second. An error means
    /// this core keeps what it ran before, whole; the loop logs and counts it.
    /// By default nothing.
    mutating func reload(_ context: inout SocketContext<Device>) throws
    /// The operator asked for the log files to be reopened (SIGUSR1, logrotate's
    /// convention): the core loop calls it within a second. By default nothing.
    mutating func reopenLogs()
}

extension EngineApplication where Self: ~Copyable {
    public mutating func startDraining(_ context: inout SocketContext<Device>) {}

    public mutating func stopAccepting(_ context: inout SocketContext<Device>) {
        context.closeListeners()
    }

    public func isFinished(_ context: borrowing SocketContext<Device>) -> Bool {
        context.socketCount == 0
    }

    public func counters() -> [ApplicationCounter] { [] }

    public mutating func reload(_ context: inout SocketContext<Device>) {}

    public mutating func reopenLogs() {}
}
