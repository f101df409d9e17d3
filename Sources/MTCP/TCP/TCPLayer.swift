/// Everything TCP keeps per engine: connections, their index by 4-tuple, timers,
/// listeners, buffer pools, output lists and the event list. All of it is sized
/// from the configuration at start-up and never grows.
struct TCPLayer: ~Copyable {
    let configuration: TCPConfiguration
    var connections: ConnectionPool
    var flows: FlowTable<IPv4FlowKey>
    /// IPv6 flows, in a table of their own (see `TCPLayer+Flows`).
    var flows6: FlowTable<IPv6FlowKey>
    var timers: TimerWheel
    var listeners = ListenerTable()
    var sendChunks: BufferChunkPool
    var receiveChunks: BufferChunkPool
    /// mTCP's output lists, flushed in this order every iteration.
    var controlList: ConnectionQueue
    var ackList: ConnectionQueue
    /// ACKs the ACK list left to a data segment of this flush; whichever the data
    /// list did not carry go bare after it (filled and emptied within one flush).
    var acksAwaitingData: ConnectionQueue
    /// The data list in two parts: flows with little left to send, then bulk.
    var shortDataList: ConnectionQueue
    var bulkDataList: ConnectionQueue
    /// The data list under `DataScheduling.srpt` (the two above stay empty then),
    /// by the bytes each flow has left: exactly the flows with `inDataList`.
    var sizeOrderedData: ConnectionHeap
    /// SRPT's starvation guard (`Engine+DataScheduling`): the same flows by
    /// when they began to wait (`TCPConnection.backlogOrder`), oldest first.
    var flowsByAge: ConnectionHeap
    var backlogsBegun: UInt64 = 0
    /// Bytes the data list has sent by size since the oldest flow's turn, less
    /// `oldestFlowShare - 1` times what that turn sent: its turn is due above 0.
    var oldestFlowDue = 0
    /// Connections with events for the application.
    var eventList: ConnectionQueue
    /// Keys the initial sequence numbers, timestamp offsets and SYN cookies.
    let secret: SipHash
    /// Keys the ephemeral ports' offset per destination, derived from `secret`.
    let ephemeralPortSecret: SipHash
    /// RFC 6056's `next_ephemeral`: advanced by every port tried.
    var ephemeralPortCounter: UInt32
    /// RTT estimates of closed connections by peer, for the next handshake
    /// (`peer_rtt_cache`; a table of two unused slots when off).
    var peerRTT: PeerRTTCache
    var statistics = TCPStatistics()

    init(configuration: TCPConfiguration, secret: SipHash, ephemeralPortStart: UInt32 = 0, now: Instant) {
        ephemeralPortCounter = ephemeralPortStart
        self.configuration = configuration
        let capacity = configuration.maxConnections
        connections = ConnectionPool(capacity: capacity)
        // Keys of their own, not from `secret`: that one is shared by every core
        // and process and kept across restarts, which flow placement needs not be.
        var random = SystemRandomNumberGenerator()
        flows = FlowTable(capacity: capacity, key: SipHash(using: &random))
        flows6 = FlowTable(capacity: capacity, key: SipHash(using: &random))
        peerRTT = PeerRTTCache(slots: configuration.peerRTTCache ? Self.peerRTTSlots : 1, key: SipHash(using: &random))
        timers = TimerWheel(nodeCount: capacity * TCPTimer.count, slotCount: 4096,
                            granularity: .milliseconds(1), start: now)
        sendChunks = BufferChunkPool(count: configuration.maxBuffers, chunkSize: configuration.sendBufferSize)
        receiveChunks = BufferChunkPool(count: configuration.maxBuffers, chunkSize: configuration.receiveBufferSize)
        // Twice the connections: room for live entries plus leftovers of ended ones.
        controlList = ConnectionQueue(capacity: 2 * capacity)
        ackList = ConnectionQueue(capacity: 2 * capacity)
        acksAwaitingData = ConnectionQueue(capacity: capacity)
        shortDataList = ConnectionQueue(capacity: 2 * capacity)
        bulkDataList = ConnectionQueue(capacity: 2 * capacity)
        let heapSlots = configuration.dataScheduling == .srpt ? capacity : 0
        sizeOrderedData = ConnectionHeap(slots: heapSlots)
        flowsByAge = ConnectionHeap(slots: heapSlots)
        eventList = ConnectionQueue(capacity: 2 * capacity)
        self.secret = secret
        ephemeralPortSecret = SipHash(derivedFrom: secret, label: 0x706F_7274)  // "port"
    }

    /// Peers whose RTT an engine keeps: 160 KiB, allocated once.
    static let peerRTTSlots = 4096

    /// mTCP's output lists and the event list, by name.
    enum OutputList { case control, ack, shortData, bulkData, events }

    /// Appends to a list. A list full of leftovers of ended connections is
    /// compacted first, so the push fails only when every entry is live.
    @inline(__always)
    mutating func push(_ id: ConnectionID, to list: OutputList) -> Bool {
        let pushed = switch list {
        case .control: controlList.push(id)
        case .ack: ackList.push(id)
        case .shortData: shortDataList.push(id)
        case .bulkData: bulkDataList.push(id)
        case .events: eventList.push(id)
        }
        return pushed || compactAndPush(id, to: list)
    }

    /// The rare case, kept out of line: the compaction's closure made the whole
    /// push too big to inline into every caller that settles a connection.
    @inline(never)
    private mutating func compactAndPush(_ id: ConnectionID, to list: OutputList) -> Bool {
        let lookup = connections.lookup
        switch list {
        case .control: return Self.compactAndPush(id, &controlList, lookup)
        case .ack: return Self.compactAndPush(id, &ackList, lookup)
        case .shortData: return Self.compactAndPush(id, &shortDataList, lookup)
        case .bulkData: return Self.compactAndPush(id, &bulkDataList, lookup)
        case .events: return Self.compactAndPush(id, &eventList, lookup)
        }
    }

    private static func compactAndPush(_ id: ConnectionID, _ queue: inout ConnectionQueue,
                                       _ lookup: ConnectionLookup) -> Bool {
        queue.compact { lookup.isLive($0) }
        return queue.push(id)
    }

    @inline(__always)
    mutating func pop(from list: OutputList) -> ConnectionID? {
        switch list {
        case .control: controlList.pop()
        case .ack: ackList.pop()
        case .shortData: shortDataList.pop()
        case .bulkData: bulkDataList.pop()
        case .events: eventList.pop()
        }
    }

    func count(of list: OutputList) -> Int {
        switch list {
        case .control: controlList.count
        case .ack: ackList.count
        case .shortData: shortDataList.count
        case .bulkData: bulkDataList.count
        case .events: eventList.count
        }
    }
}
