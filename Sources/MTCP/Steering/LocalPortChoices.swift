/// For the connections a core opens, the ephemeral ports whose flows it owns:
/// one bitmap over the ephemeral range per destination (local address, remote
/// address, remote port), built the first time the core connects there, so a
/// connect tests a bit per candidate instead of hashing it (mTCP's per-core
/// address pools, keyed as RFC 6056 keys its port offsets).
///
/// The candidates are still tried in RFC 6056 algorithm 3's keyed order (see
/// `Engine.chooseLocalPort`); the bitmap only says which of them this core may
/// take. A fixed number of destinations are kept, the oldest rebuilt for a new one.
struct LocalPortChoices {
    private struct Destination: Equatable {
        var localAddress: IPv4Address
        var remoteAddress: IPv4Address
        var remotePort: UInt16
    }

    static var destinationCount: Int { 16 }
    let firstPort: UInt16
    let portCount: Int
    private let wordsPerDestination: Int
    private var destinations: [Destination?]
    /// `destinationCount` bitmaps of `portCount` bits, bit i for port firstPort + i.
    private var owned: [UInt64]
    /// The destination slot to rebuild next when every slot is taken.
    private var nextToReplace = 0

    init(firstPort: UInt16, portCount: Int) {
        self.firstPort = firstPort
        self.portCount = portCount
        wordsPerDestination = (portCount + 63) / 64
        destinations = Array(repeating: nil, count: Self.destinationCount)
        owned = Array(repeating: 0, count: Self.destinationCount * wordsPerDestination)
    }

    /// The slot of the destination of `tuple` (its local port ignored), built on first use.
    mutating func slot(for tuple: FourTuple, _ ownership: borrowing FlowOwnership) -> Int {
        let destination = Destination(localAddress: tuple.localAddress, remoteAddress: tuple.remoteAddress,
                                      remotePort: tuple.remotePort)
        if let slot = destinations.firstIndex(of: destination) { return slot }
        let slot = nextToReplace
        nextToReplace = (nextToReplace + 1) % Self.destinationCount
        destinations[slot] = destination
        var candidate = tuple
        let base = slot * wordsPerDestination
        for word in 0..<wordsPerDestination { owned[base + word] = 0 }
        for index in 0..<portCount {
            candidate.localPort = firstPort + UInt16(index)
            if ownership.owns(candidate) { owned[base + index / 64] |= 1 << UInt64(index % 64) }
        }
        return slot
    }

    /// Whether the core owns the flow from ephemeral port `firstPort + index` to the destination of `slot`.
    @inline(__always)
    func owns(index: Int, slot: Int) -> Bool {
        owned[slot * wordsPerDestination + index / 64] & 1 << UInt64(index % 64) != 0
    }
}
