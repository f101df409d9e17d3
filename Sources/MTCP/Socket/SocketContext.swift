/// One core's socket and event API over its engine, modelled on mTCP's (which
/// followed BSD sockets and epoll) so porting an mTCP or sockets program is
/// mechanical: `socket`, `bind`, `listen`, `accept`, `connect`, `read`,
/// `write`, `writev`, `shutdown`, `close`, `localAddress`/`peerAddress`
/// (getsockname/getpeername), options, and `createEventPoll`/`control`/`wait`.
///
/// The application runs on the engine's thread, between the engine's input and
/// output halves (DESIGN.md §3): the runtime calls `poll(now:)`, then the
/// application, then `flush()`. Calls are plain function calls on this value;
/// nothing blocks, nothing is locked, nothing is allocated per call. Every
/// failure is a typed `SocketError` carrying the errno a BSD program expects.
public struct SocketContext<Device: PacketDevice>: ~Copyable {
    public var engine: Engine<Device>
    /// The time of the current iteration, set by `poll(now:)`.
    public private(set) var now: Instant
    var sockets: SocketTable
    var polls = EventPollTable()
    /// The socket of each connection slot of the engine, or -1.
    let socketOfConnection: UnsafeMutableBufferPointer<Int32>
    /// Sockets in the listening state (few; changed only by listen and close).
    var listeners: [Int32] = []

    /// - Parameter maxSockets: the socket table's size; by default the engine's
    ///   connection capacity plus room for listeners and sockets not yet connected.
    public init(engine: consuming Engine<Device>, maxSockets: Int? = nil, now: Instant = .zero) {
        let connections = engine.connectionCapacity
        self.engine = engine
        self.now = now
        sockets = SocketTable(capacity: maxSockets ?? connections + 64)
        socketOfConnection = .allocate(capacity: connections)
        socketOfConnection.initialize(repeating: -1)
    }

    deinit { socketOfConnection.deallocate() }

    /// The first half of an iteration: the engine's receive burst, protocol
    /// input and timers, then the batch of connection events sorted into the
    /// event polls' ready lists. Returns the number of frames received.
    @discardableResult
    public mutating func poll(now: Instant) -> Int {
        self.now = now
        let received = engine.poll(now: now)
        while let (connection, events) = engine.nextEvent() {
            let index = socketOfConnection[Int(connection.index)]
            guard index >= 0, sockets.entries[Int(index)].kind == .connection(connection) else { continue }
            if sockets.entries[Int(index)].readShutDown { engine.discardReceived(connection) }
            signal(index, after: events)
        }
        for index in listeners {
            guard case .listener(let listener) = sockets.entries[Int(index)].kind else { continue }
            let waiting = engine.acceptQueueLength(listener)
            if waiting > sockets.entries[Int(index)].acceptQueueSeen { signal(index) }
            sockets.entries[Int(index)].acceptQueueSeen = waiting
        }
        return received
    }

    /// The second half: output in priority order and the transmit burst.
    public mutating func flush() {
        engine.flush(now: now)
    }

    /// Output waits for room in the device's ring (`Engine.hasPendingOutput`).
    public var hasPendingOutput: Bool { engine.hasPendingOutput }

    /// Sockets open on this core.
    public var socketCount: Int { sockets.inUse }

    /// Returns every buffer the engine holds to the device (before shutdown).
    public mutating func releaseAll() { engine.releaseAll() }
}

extension SocketContext {
    /// Closes every listening socket: new connections are refused from now on,
    /// established ones go on (the first step of a graceful shutdown).
    public mutating func closeListeners() {
        for index in listeners {
            let entry = sockets.entries[Int(index)]
            try? close(Socket(index: index, generation: entry.generation))
        }
    }
}

extension SocketContext {
    /// The socket table's size: socket indices are below it.
    public var socketCapacity: Int { sockets.capacity }
}
