/// What a socket of the socket table is right now.
enum SocketKind: Equatable {
    case free
    /// Created (and perhaps bound), neither listening nor connected.
    case unconnected
    case listener(ListenerID)
    case connection(ConnectionID)
}

/// One slot of the socket table: the socket's kind and options, and its
/// registration with an event poll, including the links of the poll's ready
/// list (intrusive, so queueing a ready socket never allocates).
struct SocketEntry {
    var kind = SocketKind.free
    var generation: UInt32 = 0
    var boundPort: UInt16 = 0
    var readShutDown = false
    var sendBufferSize = 0

    // MARK: event poll registration
    /// The event poll this socket is registered with, or -1.
    var poll: Int32 = -1
    var interest: EventPollEvents = []
    var data: UInt64 = 0
    /// False after a one-shot report, until the registration is modified.
    var armed = false
    /// In its poll's ready list; `previous`/`next` are the links (-1 at the ends).
    var queued = false
    var previous: Int32 = -1
    var next: Int32 = -1
    /// Listener: the accept queue's length when last looked at, so only new
    /// connections make an edge.
    var acceptQueueSeen = 0
}

/// The sockets of one core, allocated once at start-up: a fixed array of
/// entries and a stack of free slots.
struct SocketTable: ~Copyable {
    let entries: UnsafeMutableBufferPointer<SocketEntry>
    private let freeSlots: UnsafeMutableBufferPointer<Int32>
    private var freeCount: Int

    init(capacity: Int) {
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: SocketEntry())
        freeSlots = .allocate(capacity: capacity)
        for slot in 0..<capacity { freeSlots[slot] = Int32(capacity - 1 - slot) }
        freeCount = capacity
    }

    deinit {
        entries.deallocate()
        freeSlots.deallocate()
    }

    var capacity: Int { entries.count }
    var inUse: Int { entries.count - freeCount }
    var isFull: Bool { freeCount == 0 }

    /// A fresh unconnected socket, or nil when every slot is taken.
    mutating func allocate(sendBufferSize: Int) -> Socket? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        let index = freeSlots[freeCount]
        let generation = entries[Int(index)].generation
        entries[Int(index)] = SocketEntry(kind: .unconnected, generation: generation, sendBufferSize: sendBufferSize)
        return Socket(index: index, generation: generation)
    }

    /// Frees the slot; handles to it go stale.
    mutating func release(_ index: Int32) {
        let generation = entries[Int(index)].generation &+ 1
        entries[Int(index)] = SocketEntry(generation: generation)
        freeSlots[freeCount] = index
        freeCount += 1
    }

    /// The slot of a live socket, or nil for a closed or stale handle.
    func index(of socket: Socket) -> Int? {
        let index = Int(socket.index)
        guard index >= 0, index < entries.count, entries[index].kind != .free,
              entries[index].generation == socket.generation else { return nil }
        return index
    }
}
