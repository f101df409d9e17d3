import MTCP
import MTCPRuntime
import Synchronization

/// The counts of an echo run, added up over the cores.
final class EchoTally: Sendable {
    struct Counts: Sendable {
        var completed = 0
        var failed = 0
        var bytesVerified = 0
    }

    private let counts = Mutex(Counts())
    let total: Int

    init(total: Int) { self.total = total }

    /// Adds one core's counts; asks every core to stop once all flows are done.
    func add(_ core: Counts) {
        let done = counts.withLock { counts in
            counts.completed += core.completed
            counts.failed += core.failed
            counts.bytesVerified += core.bytesVerified
            return counts.completed + counts.failed >= total
        }
        if done { StopSignal.request() }
    }

    var result: Counts { counts.withLock { $0 } }
}

/// The stack as a TCP client against an echo server: each core opens its share
/// of `TOTAL` connections, its share of the concurrency at a time, each sending
/// the same seeded bytes, half-closing, and checking every echoed byte. A
/// correctness probe of the active-open path, written against the socket API.
struct EchoLoad<Device: PacketDevice>: EngineApplication, ~Copyable {
    /// Per socket slot (indexed by the socket's index): progress.
    private struct Flow {
        var written = 0
        var verified = 0
    }

    let server: IPv4Address
    let port: UInt16
    let total: Int
    let concurrency: Int
    let deadline: TimeSpan
    let tally: EchoTally
    private let payload: [UInt8]
    private var flows: [Flow] = []
    private var poll: EventPoll?
    private var started = 0
    private var open = 0
    private var counts = EchoTally.Counts()
    private var startedAt: Instant?
    private let events = UnsafeMutableBufferPointer<EventPollEvent>.allocate(capacity: 256)
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 64)

    init(server: IPv4Address, port: UInt16, total: Int, concurrency: Int, payload: [UInt8], deadline: TimeSpan,
         tally: EchoTally) {
        self.server = server
        self.port = port
        self.total = total
        self.concurrency = concurrency
        self.payload = payload
        self.deadline = deadline
        self.tally = tally
    }

    deinit {
        events.deallocate()
        scratch.deallocate()
    }

    private var isFinished: Bool { counts.completed + counts.failed == total }

    mutating func start(_ context: inout SocketContext<Device>) throws {
        poll = try context.createEventPoll()
        flows = Array(repeating: Flow(), count: context.socketCapacity)
        if total == 0 { tally.add(counts) }
    }

    mutating func handle(_ context: inout SocketContext<Device>) {
        guard let poll, !isFinished else { return }
        if startedAt == nil { startedAt = context.now }
        if let startedAt, context.now.since(startedAt) > deadline {
            // Out of time: whatever is still open or unstarted counts as failed.
            counts.failed = total - counts.completed
            return tally.add(counts)
        }
        while open < concurrency && started < total {
            guard let socket = try? context.socket() else { break }
            do {
                try context.connect(socket, to: server, port: port)
                try context.control(poll, .add, socket, events: [.input, .output, .edgeTriggered], data: socket.rawValue)
            } catch {
                try? context.close(socket)
                break
            }
            flows[Int(socket.index)] = Flow()
            started += 1
            open += 1
        }
        let count = context.wait(poll, into: events)
        for event in events[0..<count] {
            let socket = Socket(rawValue: event.data)
            if event.events.contains(.error) {
                finish(socket, &context, succeeded: false)
                continue
            }
            send(socket, &context)
            receive(socket, &context)
        }
        if isFinished { tally.add(counts) }
    }

    private mutating func send(_ socket: Socket, _ context: inout SocketContext<Device>) {
        let written = flows[Int(socket.index)].written
        guard written < payload.count || payload.isEmpty, context.state(of: socket) != nil else { return }
        let count = payload.withUnsafeBytes { bytes in
            (try? context.write(socket, UnsafeRawBufferPointer(rebasing: bytes[written...]))) ?? 0
        }
        flows[Int(socket.index)].written += count
        if flows[Int(socket.index)].written == payload.count { try? context.shutdown(socket, .write) }
    }

    private mutating func receive(_ socket: Socket, _ context: inout SocketContext<Device>) {
        while true {
            let count: Int
            do {
                count = try context.read(socket, into: scratch)
            } catch .wouldBlock {
                return
            } catch {
                return finish(socket, &context, succeeded: false)
            }
            let verified = flows[Int(socket.index)].verified
            guard count > 0 else {
                return finish(socket, &context, succeeded: verified == payload.count)
            }
            let matches = verified + count <= payload.count && payload.withUnsafeBytes { expected in
                UnsafeRawBufferPointer(rebasing: scratch[0..<count])
                    .elementsEqual(UnsafeRawBufferPointer(rebasing: expected[verified..<verified + count]))
            }
            guard matches else { return finish(socket, &context, succeeded: false) }
            flows[Int(socket.index)].verified += count
        }
    }

    private mutating func finish(_ socket: Socket, _ context: inout SocketContext<Device>,
                                 succeeded: Bool) {
        if succeeded {
            counts.completed += 1
            counts.bytesVerified += flows[Int(socket.index)].verified
        } else {
            counts.failed += 1
        }
        open -= 1
        try? context.close(socket)
    }
}
