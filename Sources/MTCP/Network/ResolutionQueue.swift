/// Frames waiting for their next hop's Ethernet address, and the ARP requests
/// outstanding for those next hops.
///
/// Bounded on both counts, in storage allocated once: when it is full a new frame
/// is refused (the caller drops and counts it) rather than growing without limit
/// under a flood towards unresolvable addresses.
public struct ResolutionQueue<Address: NeighbourAddress>: ~Copyable {
    struct Waiting {
        var nextHop: Address
        var buffer: PacketBuffer
    }

    struct Resolution {
        var nextHop: Address
        var firstSent: Instant
        var lastSent: Instant
    }

    /// What `nextAction` asks of the caller for one next hop.
    public enum Action { case sendRequest(Address), giveUp(Address) }

    private let waiting: UnsafeMutableBufferPointer<Waiting>
    private var waitingCount = 0
    private let resolutions: UnsafeMutableBufferPointer<Resolution>
    private var resolutionCount = 0
    /// Time between ARP requests for one next hop (RFC 1122 §2.3.2.1: at most one per second).
    public let retryInterval: TimeSpan
    /// Time after the first request when waiting frames are dropped.
    public let timeout: TimeSpan

    public init(capacity: Int = 64, retryInterval: TimeSpan = .seconds(1), timeout: TimeSpan = .seconds(3)) {
        waiting = .allocate(capacity: capacity)
        resolutions = .allocate(capacity: capacity)
        self.retryInterval = retryInterval
        self.timeout = timeout
    }

    deinit {
        waiting.deallocate()
        resolutions.deallocate()
    }

    public var count: Int { waitingCount }
    public var isEmpty: Bool { waitingCount == 0 }

    /// Queues `buffer` until `nextHop` resolves. Returns whether an ARP request
    /// must be sent now (the first frame for this next hop), or nil when the
    /// queue is full and the frame was not taken.
    public mutating func enqueue(_ buffer: PacketBuffer, nextHop: Address, now: Instant) -> Bool? {
        guard waitingCount < waiting.count else { return nil }
        waiting[waitingCount] = Waiting(nextHop: nextHop, buffer: buffer)
        waitingCount += 1
        if isResolving(nextHop) { return false }
        resolutions[resolutionCount] = Resolution(nextHop: nextHop, firstSent: now, lastSent: now)
        resolutionCount += 1
        return true
    }

    /// True while frames wait for `nextHop`.
    public func isResolving(_ nextHop: Address) -> Bool {
        resolutions[0..<resolutionCount].contains { $0.nextHop == nextHop }
    }

    /// Forgets the outstanding request for `nextHop` (it resolved); its frames are
    /// then collected with `take(waitingFor:)`.
    public mutating func resolve(_ nextHop: Address) {
        if let index = resolutions[0..<resolutionCount].firstIndex(where: { $0.nextHop == nextHop }) {
            removeResolution(at: index)
        }
    }

    /// An outstanding next hop that `table` now resolves (another core heard
    /// the answer); nil when none does.
    public func firstResolved(in table: NeighbourTable<Address>, now: Instant) -> Address? {
        resolutions[0..<resolutionCount].first { table.lookup($0.nextHop, now: now) != nil }?.nextHop
    }

    /// The oldest frame waiting for `nextHop`, removed from the queue; nil when none.
    /// (The caller loops; closures over the engine would overlap its accesses.)
    public mutating func take(waitingFor nextHop: Address) -> PacketBuffer? {
        guard let index = waiting[0..<waitingCount].firstIndex(where: { $0.nextHop == nextHop }) else { return nil }
        let buffer = waiting[index].buffer
        for later in (index + 1)..<waitingCount { waiting[later - 1] = waiting[later] }
        waitingCount -= 1
        return buffer
    }

    /// Any queued frame, removed (shutdown).
    public mutating func takeAny() -> PacketBuffer? {
        guard waitingCount > 0 else { return nil }
        resolutionCount = 0
        waitingCount -= 1
        return waiting[waitingCount].buffer
    }

    /// Timers, one action per call until nil: a request to resend for a next hop
    /// whose retry interval passed, or giving up on one past the timeout (its
    /// resolution is forgotten; the caller drops its frames with `take(waitingFor:)`).
    public mutating func nextAction(now: Instant) -> Action? {
        for index in 0..<resolutionCount {
            let resolution = resolutions[index]
            if now.since(resolution.firstSent) >= timeout {
                removeResolution(at: index)
                return .giveUp(resolution.nextHop)
            }
            if now.since(resolution.lastSent) >= retryInterval {
                resolutions[index].lastSent = now
                return .sendRequest(resolution.nextHop)
            }
        }
        return nil
    }

    private mutating func removeResolution(at index: Int) {
        resolutionCount -= 1
        resolutions[index] = resolutions[resolutionCount]
    }
}

/// Frames waiting for ARP.
public typealias ARPPendingQueue = ResolutionQueue<IPv4Address>
/// Frames waiting for Neighbor Discovery (RFC 4861 §7.2.2: the INCOMPLETE state's queue).
public typealias NDPendingQueue = ResolutionQueue<IPv6Address>
