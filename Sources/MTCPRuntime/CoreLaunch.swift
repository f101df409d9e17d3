import MTCP

/// The order in which a run starts and ends its cores, apart from DPDK so that
/// it can be checked without one.
enum CoreLaunch {
    /// Launches cores 1...`workers` with `launch`, runs core 0 on this thread
    /// with `runMain`, then waits for the others with `waitForWorkers`.
    ///
    /// When a launch fails, the cores already running are asked to stop and
    /// waited for before the failure is thrown: what the caller tears down next
    /// (the port, EAL's memory) must not be in use by a core still running.
    static func run(workers: Int, launch: (Int) throws(DPDKError) -> Void, runMain: () -> Void,
                    requestStop: () -> Void, waitForWorkers: () -> Void) throws(DPDKError) {
        for core in 1..<workers + 1 {
            do {
                try launch(core)
            } catch {
                requestStop()
                waitForWorkers()
                throw error
            }
        }
        runMain()
        waitForWorkers()
    }
}
