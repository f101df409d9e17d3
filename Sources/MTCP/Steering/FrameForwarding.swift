import Synchronization

/// A core's side of the `ForwardingMesh`, where the port's spreading cannot be
/// predicted: frames that landed on this core but belong to another wait in a
/// batch per owner until the end of the receive burst, then cross in one push;
/// frames other cores forwarded here are taken after each burst. Everything is
/// allocated at start-up; a frame costs a hash, a store and its share of one
/// atomic store per batch.
///
/// Visible outside the module only as SPI, for the hot-path micro-benchmarks
/// (`@_spi(Benchmarks) import MTCP` in Benchmarks/), which time it per frame.
///
/// The mesh is held only to keep it alive: per poll the rings and stop flags
/// are reached through raw pointers copied from it, since a class reference
/// used there costs a retain and a release per use (seen in the disassembly of
/// `take`: two of each per call).
@_spi(Benchmarks) public struct FrameForwarding: ~Copyable {
    let mesh: ForwardingMesh?
    let core: Int
    /// The mesh's, or 0 without one (no rings, nothing to take).
    private let cores: Int
    private let rings: UnsafeMutablePointer<ForwardRing>?
    private let stopped: UnsafeMutablePointer<Atomic<Bool>>?
    private let batchSize: Int
    /// Per other core, the frames waiting to cross (`batchSize` slots each).
    private let staged: UnsafeMutablePointer<PacketBuffer>
    private let stagedCounts: UnsafeMutablePointer<Int>
    /// The core whose ring `take` reads first, rotating.
    private var firstProducer = 0

    /// - Parameter batchSize: the receive burst: a burst cannot stage more for one core.
    public init(mesh: ForwardingMesh?, core: Int, batchSize: Int) {
        precondition(batchSize > 0, "batch size \(batchSize)")
        precondition(core >= 0 && core < mesh?.cores ?? Int.max, "core \(core) of \(mesh?.cores ?? 0)")
        self.mesh = mesh
        self.core = core
        self.batchSize = batchSize
        let cores = mesh?.cores ?? 0
        self.cores = cores
        rings = mesh?.rings
        stopped = mesh?.stopped
        staged = .allocate(capacity: cores * batchSize)
        stagedCounts = .allocate(capacity: cores)
        stagedCounts.initialize(repeating: 0, count: cores)
    }

    deinit {
        // Frames are staged and sent within one `poll`: staged ones would be
        // lost here with their buffers (the device that releases them is the engine's).
        assert((0..<cores).allSatisfy { stagedCounts[$0] == 0 }, "frames staged but never sent")
        staged.deallocate()
        stagedCounts.deallocate()
    }

    var isActive: Bool { rings != nil }

    /// This core takes no more frames: other cores release theirs for it.
    func stop() { mesh?.stop(core: core) }

    /// Holds `buffer` for `owner` until `send`; false when its batch is full.
    /// `owner` is another core of the mesh (a frame staged for this core would
    /// sit in a ring nobody reads).
    @inline(__always)
    public func stage(_ buffer: PacketBuffer, for owner: Int) -> Bool {
        precondition(UInt(bitPattern: owner) < UInt(cores) && owner != core, "owner \(owner) from core \(core)")
        guard stagedCounts[owner] < batchSize else { return false }
        (staged + owner * batchSize + stagedCounts[owner]).initialize(to: buffer)
        stagedCounts[owner] += 1
        return true
    }

    /// Pushes every staged batch to its owner's ring; returns the frames that
    /// crossed and hands each frame that did not to `refused`, with why: no
    /// room, or an owner that has stopped and would never take it.
    public func send(_ refused: (PacketBuffer, DropReason) -> Void) -> Int {
        guard let rings, let stopped else { return 0 }
        var sent = 0
        for owner in 0..<cores where stagedCounts[owner] > 0 {
            let batch = staged + owner * batchSize
            let ownerStopped = stopped[owner].load(ordering: .acquiring)
            let pushed = ownerStopped ? 0 : rings[core * cores + owner].push(batch, count: stagedCounts[owner])
            let reason: DropReason = ownerStopped ? .forwardOwnerStopped : .forwardRingFull
            for index in pushed..<stagedCounts[owner] { refused(batch[index], reason) }
            sent += pushed
            stagedCounts[owner] = 0
        }
        return sent
    }

    /// Frames other cores forwarded here, up to `buffers.count`. Each call
    /// starts at the next producer, so with three cores or more a busy one
    /// cannot fill every take and starve the others' rings.
    public mutating func take(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        guard let rings else { return 0 }
        var taken = 0
        firstProducer = firstProducer + 1 == cores ? 0 : firstProducer + 1
        var other = firstProducer
        for _ in 0..<cores where taken < buffers.count {
            if other != core {
                taken += rings[other * cores + core].pop(into: UnsafeMutableBufferPointer(rebasing: buffers[taken...]))
            }
            other = other + 1 == cores ? 0 : other + 1
        }
        return taken
    }
}
