/// Frames waiting for their next hop's Ethernet address, and the ARP requests
/// outstanding for those next hops.
///
/// Bounded on both counts, in storage allocated once: when it is full a new frame
/// is refused (the caller drops and counts it) rather than growing without limit
/// under a flood towards unresolvable addresses.
public struct ARPPendingQueue: ~Copyable {
    struct Waiting {
        var nextHop: IPv4Address
        var buffer: PacketBuffer
    }

    struct Resolution {
        var nextHop: IPv4Address
        var firstSent: Instant
        var lastSent: Instant
    }

    /// What `poll` asks of the caller for one next hop.
    public enum Action { case sendRequest(IPv4Address), giveUp(IPv4Address) }

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
    public mutating func enqueue(_ buffer: PacketBuffer, nextHop: IPv4Address, now: Instant) -> Bool? {
        guard waitingCount < waiting.count else { return nil }
        waiting[waitingCount] = Waiting(nextHop: nextHop, buffer: buffer)
        waitingCount += 1
        if resolutions[0..<resolutionCount].contains(where: { $0.nextHop == nextHop }) { return false }
        resolutions[resolutionCount] = Resolution(nextHop: nextHop, firstSent: now, lastSent: now)
        resolutionCount += 1
        return true
    }

    /// Removes every frame waiting for `nextHop` and hands each to `body`, in the
    /// order they were queued.
    public mutating func resolve(_ nextHop: IPv4Address, _ body: (PacketBuffer) -> Void) {
        guard let resolution = resolutions[0..<resolutionCount].firstIndex(where: { $0.nextHop == nextHop }) else {
            return
        }
        removeResolution(at: resolution)
        var kept = 0
        for index in 0..<waitingCount {
            if waiting[index].nextHop == nextHop {
                body(waiting[index].buffer)
            } else {
                waiting[kept] = waiting[index]
                kept += 1
            }
        }
        waitingCount = kept
    }

    /// Timers: calls `body` with a request to resend for next hops whose retry
    /// interval passed, and gives up on those past the timeout (their frames are
    /// handed to `drop`).
    public mutating func poll(now: Instant, _ body: (Action) -> Void, drop: (PacketBuffer) -> Void) {
        var index = 0
        while index < resolutionCount {
            let resolution = resolutions[index]
            if now.since(resolution.firstSent) >= timeout {
                body(.giveUp(resolution.nextHop))
                resolve(resolution.nextHop, drop)
                continue
            }
            if now.since(resolution.lastSent) >= retryInterval {
                resolutions[index].lastSent = now
                body(.sendRequest(resolution.nextHop))
            }
            index += 1
        }
    }

    /// Hands every queued frame to `body` and forgets all resolutions (shutdown).
    public mutating func drain(_ body: (PacketBuffer) -> Void) {
        for index in 0..<waitingCount { body(waiting[index].buffer) }
        waitingCount = 0
        resolutionCount = 0
    }

    private mutating func removeResolution(at index: Int) {
        resolutionCount -= 1
        resolutions[index] = resolutions[resolutionCount]
    }
}
