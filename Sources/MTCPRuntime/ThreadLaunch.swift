import CDPDK
import Glibc
import MTCP

/// A closure passed through a C `void *` argument to a thread's entry point.
private final class ThreadBody: @unchecked Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

private func runThreadBody(_ argument: UnsafeMutableRawPointer?) {
    Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue().run()
}

/// Starts threads for the runtime: EAL's worker lcores (pinned by EAL to their
/// cores, with DPDK's per-lcore mempool caches) and plain threads for the
/// management plane.
public enum ThreadLaunch {
    /// Runs `body` on EAL worker lcore `lcore`; `waitForLcores` joins them.
    static func onLcore(_ lcore: UInt32, _ body: @escaping @Sendable () -> Void) throws(DPDKError) {
        let argument = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        let rc = rte_eal_remote_launch({ argument in
            runThreadBody(argument)
            return 0
        }, argument, lcore)
        guard rc == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(argument).release()
            throw DPDKError("cannot start the engine on lcore \(lcore): \(String(cString: rte_strerror(-rc)))")
        }
    }

    /// Waits for every worker lcore to return.
    static func waitForLcores() { rte_eal_mp_wait_lcore() }

    /// The worker lcores EAL started (every core of `-l` but the main one), ascending.
    static var workerLcores: [UInt32] {
        var lcores: [UInt32] = []
        var lcore = rte_get_next_lcore(UInt32.max, 1, 0)
        while lcore < UInt32(RTE_MAX_LCORE) {
            lcores.append(lcore)
            lcore = rte_get_next_lcore(lcore, 1, 0)
        }
        return lcores
    }

    /// Runs `body` on a new thread, which inherits the caller's CPU affinity
    /// (see `ManagementAffinity`); `join` waits for it.
    public static func detached(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { argument in
            runThreadBody(argument)
            return nil
        }, argument)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return thread
    }

    public static func join(_ thread: pthread_t) { pthread_join(thread, nil) }
}
