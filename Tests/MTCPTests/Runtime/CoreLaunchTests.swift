import Testing
import MTCP
@testable import MTCPRuntime

@Suite struct CoreLaunchTests {
    @Test func allCoresRunThenTheWorkersAreWaitedFor() throws {
        var steps: [String] = []
        try CoreLaunch.run(workers: 2, launch: { steps.append("launch \($0)") }, runMain: { steps.append("main") },
                           requestStop: { steps.append("stop") }, waitForWorkers: { steps.append("wait") })
        #expect(steps == ["launch 1", "launch 2", "main", "wait"])
    }

    /// Core 2 cannot start: core 1, already running, is stopped and waited for
    /// before the failure reaches the caller (which then stops the port and EAL).
    @Test func aFailedLaunchStopsAndWaitsForTheCoresAlreadyRunning() {
        var steps: [String] = []
        let failure = #expect(throws: DPDKError.self) {
            try CoreLaunch.run(workers: 3, launch: { core throws(DPDKError) in
                steps.append("launch \(core)")
                if core == 2 { throw DPDKError("lcore busy") }
            }, runMain: { steps.append("main") },
            requestStop: { steps.append("stop") }, waitForWorkers: { steps.append("wait") })
        }
        #expect(failure?.description == "lcore busy")
        #expect(steps == ["launch 1", "launch 2", "stop", "wait"])
    }
}
