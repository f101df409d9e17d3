import MTCP
import MTCPRuntime

/// The stack as a TCP client against an echo server: `TOTAL` connections,
/// `concurrency` at a time, each sending the same seeded bytes, half-closing,
/// and checking every echoed byte. A correctness probe of the active-open path
/// (and the first workload of the load generator).
struct EchoLoad: EngineApplication, ~Copyable {
    struct Outcome: Sendable {
        var started = 0
        var completed = 0
        var failed = 0
        var bytesVerified = 0
    }

    /// Per connection slot (indexed by the connection's pool index): progress.
    private struct Flow {
        var generation: UInt32 = 0
        var active = false
        var written = 0
        var verified = 0
    }

    let server: IPv4Address
    let port: UInt16
    let total: Int
    let concurrency: Int
    let deadline: TimeSpan
    private let payload: [UInt8]
    private var flows: [Flow]
    private var open = 0
    private var startedAt: Instant?
    private(set) var outcome = Outcome()
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 64)

    init(server: IPv4Address, port: UInt16, total: Int, concurrency: Int, bytes: Int, seed: UInt64,
         maxConnections: Int, deadline: TimeSpan) {
        self.server = server
        self.port = port
        self.total = total
        self.concurrency = concurrency
        self.deadline = deadline
        var random = SeededRandom(seed: seed)
        payload = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        flows = Array(repeating: Flow(), count: maxConnections)
    }

    deinit { scratch.deallocate() }

    var isFinished: Bool { outcome.completed + outcome.failed == total }

    mutating func start<Device: PacketDevice>(_ engine: inout Engine<Device>) throws {}

    mutating func handle<Device: PacketDevice>(_ engine: inout Engine<Device>, now: Instant) {
        if startedAt == nil { startedAt = now }
        if let startedAt, now.since(startedAt) > deadline {
            // Out of time: whatever is still open counts as failed.
            outcome.failed = total - outcome.completed
            return StopSignal.request()
        }
        while open < concurrency && outcome.started < total {
            guard let id = try? engine.connect(to: server, port: port, now: now) else { break }
            flows[Int(id.index)] = Flow(generation: id.generation, active: true)
            outcome.started += 1
            open += 1
        }
        while let (id, events) = engine.nextEvent() {
            guard flows[Int(id.index)].active, flows[Int(id.index)].generation == id.generation else { continue }
            if events.contains(.error) {
                finish(id, &engine, succeeded: false, now: now)
                continue
            }
            send(id, &engine)
            receive(id, &engine, now: now)
        }
        if isFinished { StopSignal.request() }
    }

    private mutating func send<Device: PacketDevice>(_ id: ConnectionID, _ engine: inout Engine<Device>) {
        let written = flows[Int(id.index)].written
        guard written < payload.count || payload.isEmpty else { return }
        let count = payload.withUnsafeBytes { bytes in
            (try? engine.write(id, UnsafeRawBufferPointer(rebasing: bytes[written...]))) ?? 0
        }
        flows[Int(id.index)].written += count
        if flows[Int(id.index)].written == payload.count { try? engine.shutdownWrite(id) }
    }

    private mutating func receive<Device: PacketDevice>(_ id: ConnectionID, _ engine: inout Engine<Device>,
                                                        now: Instant) {
        while true {
            let count: Int
            do {
                count = try engine.read(id, into: scratch, now: now)
            } catch .wouldBlock {
                return
            } catch {
                return finish(id, &engine, succeeded: false, now: now)
            }
            let verified = flows[Int(id.index)].verified
            guard count > 0 else {
                return finish(id, &engine, succeeded: verified == payload.count, now: now)
            }
            let matches = verified + count <= payload.count && payload.withUnsafeBytes { expected in
                UnsafeRawBufferPointer(rebasing: scratch[0..<count])
                    .elementsEqual(UnsafeRawBufferPointer(rebasing: expected[verified..<verified + count]))
            }
            guard matches else { return finish(id, &engine, succeeded: false, now: now) }
            flows[Int(id.index)].verified += count
        }
    }

    private mutating func finish<Device: PacketDevice>(_ id: ConnectionID, _ engine: inout Engine<Device>,
                                                       succeeded: Bool, now: Instant) {
        if succeeded {
            outcome.completed += 1
            outcome.bytesVerified += flows[Int(id.index)].verified
        } else {
            outcome.failed += 1
        }
        flows[Int(id.index)].active = false
        open -= 1
        engine.close(id, now: now)
    }
}
