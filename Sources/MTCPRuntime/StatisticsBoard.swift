import MTCP
import Synchronization

/// What one engine tells the rest of the process once a second: its counters
/// and how full its pools are.
public struct CoreSnapshot: Sendable {
    public var core: Int
    public var engine = EngineStatistics()
    public var tcp = TCPStatistics()
    public var connections = 0
    public var connectionCapacity = 0
    public var sockets = 0
    /// Connections waiting on the output lists (a backlog when the line is shaped).
    public var outputBacklog = 0
    public var framesCaptured: UInt64 = 0
    public var framesNotCaptured: UInt64 = 0
    /// Time in loop iterations that did work and in those that found none (`CoreLoad`).
    public var busyNanoseconds: UInt64 = 0
    public var idleNanoseconds: UInt64 = 0
    /// The busy share since the core's previous snapshot (half a second), in percent.
    public var recentBusyPercent: Double?
    /// The application's counters (`EngineApplication.counters`).
    public var application: [ApplicationCounter] = []

    /// The configuration generation the core runs and the reloads it could not
    /// take (`CoreReloadState`).
    public var reloads: (generation: UInt64, failures: UInt64) = (0, 0)

    public init(core: Int) { self.core = core }
}

/// The engines' statistics, shared with the management thread (printing,
/// Prometheus). Each engine publishes a snapshot once a second, so the lock is
/// taken once a second per core: never on the data path.
public final class StatisticsBoard: Sendable {
    private let snapshots: Mutex<[CoreSnapshot]>

    public init(cores: Int) {
        snapshots = Mutex((0..<cores).map { CoreSnapshot(core: $0) })
    }

    public func publish(_ snapshot: CoreSnapshot) {
        snapshots.withLock { $0[snapshot.core] = snapshot }
    }

    /// The latest snapshot of every core.
    public func read() -> [CoreSnapshot] { snapshots.withLock { $0 } }
}

extension [CoreSnapshot] {
    /// All cores added up (core -1).
    public var total: CoreSnapshot {
        var sum = CoreSnapshot(core: -1)
        for snapshot in self {
            sum.engine.add(snapshot.engine)
            sum.tcp.add(snapshot.tcp)
            sum.connections += snapshot.connections
            sum.connectionCapacity += snapshot.connectionCapacity
            sum.sockets += snapshot.sockets
            sum.outputBacklog += snapshot.outputBacklog
            sum.framesCaptured += snapshot.framesCaptured
            sum.framesNotCaptured += snapshot.framesNotCaptured
            sum.busyNanoseconds &+= snapshot.busyNanoseconds
            sum.idleNanoseconds &+= snapshot.idleNanoseconds
            // Every core runs the same application: its counters line up.
            if sum.application.isEmpty {
                sum.application = snapshot.application
            } else {
                for index in sum.application.indices where index < snapshot.application.count {
                    sum.application[index].value &+= snapshot.application[index].value
                }
            }
        }
        return sum
    }
}
