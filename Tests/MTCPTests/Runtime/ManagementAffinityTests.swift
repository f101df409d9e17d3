import Testing
@testable import MTCPRuntime

@Suite struct ManagementAffinityTests {
    @Test func theManagementThreadAvoidsTheEnginesCPUs() {
        let placement = ManagementAffinity.cpus(allowed: [0, 1, 2, 3], lcores: [0, 2])
        #expect(placement.cpus == [1, 3])
        #expect(!placement.shared)
    }

    @Test func onlyCPUsTheProcessMayUseAreChosen() {
        let placement = ManagementAffinity.cpus(allowed: [2, 3, 5], lcores: [2])
        #expect(placement.cpus == [3, 5])
    }

    /// Two CPUs, two engines: it must share, but not only with engine 0.
    @Test func whenEveryCPURunsAnEngineItMaySharAny() {
        let placement = ManagementAffinity.cpus(allowed: [0, 1], lcores: [0, 1])
        #expect(placement.cpus == [0, 1])
        #expect(placement.shared)
    }
}
