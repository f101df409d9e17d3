/// The listening ports of one engine, each with its accept queue and a count of
/// half-open connections (its SYN queue). Every engine has its own table, as
/// mTCP's per-core listen queues: no accept lock, no cache line shared by cores.
struct ListenerTable: ~Copyable {
    struct Listener {
        var active = false
        var port: UInt16 = 0
        /// Most connections waiting in SYN-RECEIVED, and most waiting for accept.
        var backlog = 0
        var halfOpen = 0
        /// When the SYN queue last overflowed (a SYN answered with a cookie); nil
        /// if it never did. Cookies are checked only while this is recent.
        var lastOverflow: Instant?
        var acceptRing = UnsafeMutableBufferPointer<ConnectionID>(start: nil, count: 0)
        var acceptHead = 0
        var acceptCount = 0
        /// The application has connections to accept (the listener's event).
        var acceptable: Bool { acceptCount > 0 }
    }

    private let listeners: UnsafeMutableBufferPointer<Listener>

    init(capacity: Int = 64) {
        listeners = .allocate(capacity: capacity)
        listeners.initialize(repeating: Listener())
    }

    deinit {
        for index in listeners.indices where listeners[index].active { listeners[index].acceptRing.deallocate() }
        listeners.deallocate()
    }

    /// The active listener on `port`, if any.
    @inline(__always)
    func find(port: UInt16) -> Int? {
        for index in listeners.indices where listeners[index].active && listeners[index].port == port {
            return index
        }
        return nil
    }

    mutating func add(port: UInt16, backlog: Int) throws(SocketError) -> Int {
        guard backlog > 0 else { throw .invalidArgument }
        guard find(port: port) == nil else { throw .addressInUse }
        guard let index = listeners.firstIndex(where: { !$0.active }) else { throw .noResources }
        listeners[index] = Listener(active: true, port: port, backlog: backlog,
                                    acceptRing: .allocate(capacity: backlog))
        return index
    }

    /// Stops listening; returns the connections that were waiting for accept so the
    /// caller can reset them.
    mutating func remove(_ index: Int, _ waiting: inout [ConnectionID]) {
        while let id = popAcceptable(index) { waiting.append(id) }
        listeners[index].acceptRing.deallocate()
        listeners[index] = Listener()
    }

    @inline(__always)
    subscript(index: Int) -> Listener {
        get { listeners[index] }
        _modify { yield &listeners[index] }
    }

    func isActive(_ index: Int) -> Bool { index >= 0 && index < listeners.count && listeners[index].active }

    /// Whether the accept queue can take another connection.
    func hasAcceptRoom(_ index: Int) -> Bool { listeners[index].acceptCount < listeners[index].backlog }

    /// Queues a connection that completed its handshake; false when the accept queue is full.
    @inline(__always)
    mutating func pushAcceptable(_ index: Int, _ id: ConnectionID) -> Bool {
        guard hasAcceptRoom(index) else { return false }
        var listener = listeners[index]
        var tail = listener.acceptHead + listener.acceptCount
        if tail >= listener.backlog { tail -= listener.backlog }
        listener.acceptRing[tail] = id
        listener.acceptCount += 1
        listeners[index] = listener
        return true
    }

    @inline(__always)
    mutating func popAcceptable(_ index: Int) -> ConnectionID? {
        var listener = listeners[index]
        guard listener.acceptCount > 0 else { return nil }
        let id = listener.acceptRing[listener.acceptHead]
        listener.acceptHead += 1
        if listener.acceptHead == listener.backlog { listener.acceptHead = 0 }
        listener.acceptCount -= 1
        listeners[index] = listener
        return id
    }
}
