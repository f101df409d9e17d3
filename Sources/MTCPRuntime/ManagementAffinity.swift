import CDPDK
import Glibc

/// Where the management thread runs. EAL pins the main thread to the main
/// lcore's CPU, and a thread it creates inherits that pinning, so without this
/// the management thread (polls, statistics, Prometheus rendering) would
/// preempt engine 0's busy loop.
enum ManagementAffinity {
    /// The CPUs for the management thread: those of `allowed` (the process's
    /// CPUs before EAL pinned anything) that no engine's lcore runs on. When the
    /// engines occupy all of them it must share a CPU with one anyway; then it
    /// gets every allowed CPU (`shared`), so the scheduler can put it beside
    /// the least busy engine rather than always beside engine 0.
    static func cpus(allowed: [Int], lcores: [Int]) -> (cpus: [Int], shared: Bool) {
        let free = allowed.filter { !lcores.contains($0) }
        return free.isEmpty ? (allowed, true) : (free, false)
    }

    /// The CPUs the calling thread may run on (empty when the kernel does not say).
    static func currentThreadCPUs() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = mtcp_thread_cpus(&cpus, Int32(cpus.count))
        return cpus.prefix(Int(max(count, 0))).map(Int.init)
    }

    /// Restricts `thread` to `cpus` (nothing happens when it is empty).
    static func restrict(_ thread: pthread_t, to cpus: [Int]) {
        guard !cpus.isEmpty else { return }
        let list = cpus.map(Int32.init)
        _ = mtcp_set_thread_cpus(thread, list, Int32(list.count))
    }
}
