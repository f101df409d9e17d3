import Testing
@_spi(Benchmarks) @testable import MTCP

/// The forwarding types write through raw pointers indexed by core: a core,
/// owner or size out of range must stop the process, not write past the
/// storage; and a ring or a stage dropped with frames in it, whose buffers
/// would leak, is caught in debug builds (the tests' build).
@Suite struct ForwardingMisuseTests {
    static func frame() -> PacketBuffer {
        let address = UnsafeMutableRawPointer(bitPattern: 0x1000)!
        return PacketBuffer(handle: address, bytes: address, length: 60, capacity: 0)
    }

    @Test func stagingForACoreOutsideTheMeshTraps() async {
        await #expect(processExitsWith: .failure) {
            let forwarding = FrameForwarding(mesh: ForwardingMesh(cores: 2), core: 0, batchSize: 4)
            _ = forwarding.stage(ForwardingMisuseTests.frame(), for: 2)
        }
    }

    @Test func stagingForItselfTraps() async {
        await #expect(processExitsWith: .failure) {
            // Sent and drained after: only the staging itself may trap, not a leak check.
            let mesh = ForwardingMesh(cores: 2)
            let forwarding = FrameForwarding(mesh: mesh, core: 1, batchSize: 4)
            _ = forwarding.stage(ForwardingMisuseTests.frame(), for: 1)
            _ = forwarding.send { _, _ in }
            _ = mesh.drain { _ in }
        }
    }

    @Test func stagingWithoutAMeshTraps() async {
        await #expect(processExitsWith: .failure) {
            let forwarding = FrameForwarding(mesh: nil, core: 0, batchSize: 4)
            _ = forwarding.stage(ForwardingMisuseTests.frame(), for: 0)
        }
    }

    @Test func aCoreOutsideTheMeshTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = FrameForwarding(mesh: ForwardingMesh(cores: 2), core: 2, batchSize: 4)
        }
    }

    @Test func anEmptyBatchTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = FrameForwarding(mesh: ForwardingMesh(cores: 2), core: 0, batchSize: 0)
        }
    }

    @Test func anOwnershipForACoreTheSpreadingLacksTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = FlowOwnership(core: 2, spreading: .unpredictable(cores: 2))
        }
        await #expect(processExitsWith: .failure) {
            _ = FlowOwnership(core: 0, spreading: .receiveSideScaling(redirectionTable: []))
        }
    }

    @Test func aRingDroppedWithFramesInItTraps() async {
        await #expect(processExitsWith: .failure) {
            let ring = ForwardRing(capacity: 4)
            var frame = ForwardingMisuseTests.frame()
            _ = ring.push(&frame, count: 1)
        }
    }

    @Test func aStageDroppedWithFramesInItTraps() async {
        await #expect(processExitsWith: .failure) {
            let mesh = ForwardingMesh(cores: 2)
            let forwarding = FrameForwarding(mesh: mesh, core: 0, batchSize: 4)
            _ = forwarding.stage(ForwardingMisuseTests.frame(), for: 1)
        }
    }
}
