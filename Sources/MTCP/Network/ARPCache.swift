/// The neighbour table of one engine: IPv4 address -> Ethernet address.
///
/// Open addressing with linear probing over storage allocated once, so lookups
/// and updates on the data path never allocate. Static entries (arp.conf) never
/// expire and are never overwritten by what the wire says; dynamic entries live
/// for `lifetime` after they were last confirmed. When the table is full a new
/// neighbour takes the place of the least recently used dynamic entry, so a
/// burst of senders (spoofed or not) can never lock new neighbours out.
public struct ARPCache: ~Copyable {
    struct Entry {
        var address: IPv4Address
        var mac: MACAddress
        var expiresAt: Instant
        var state: State
        /// Stale entries: when the next confirming request may go out.
        var nextProbe = Instant.zero
        /// When the entry was last confirmed or resolved: eviction order.
        var lastUsed = Instant.zero
    }

    /// What `learn` did with a new address.
    public enum LearnOutcome: Equatable {
        /// Stored (or already there), with no other entry lost.
        case stored
        /// Stored in place of the least recently used dynamic entry.
        case storedEvicting
        /// Not stored: every slot holds a static entry.
        case refused
    }

    enum State: UInt8 { case empty, dynamic, staticEntry }

    /// How long a learned entry is trusted (Linux's base_reachable_time is 30 s,
    /// stale entries are reused for up to a minute).
    public let lifetime: TimeSpan
    /// How long past its lifetime an entry is still used while a request
    /// confirms it (Linux's STALE/PROBE states): traffic to a neighbour that
    /// stays silent on ARP goes on, instead of queueing behind a resolution
    /// every `lifetime` (a burst of resets then overflowed the pending queue).
    public static let staleGrace = TimeSpan.seconds(5)
    /// Requests confirming a stale entry go out at most this often.
    public static let probeInterval = TimeSpan.seconds(1)
    private let entries: UnsafeMutableBufferPointer<Entry>
    private let mask: Int
    public private(set) var count = 0
    /// Where the next search for an eviction victim starts, so successive
    /// evictions sample the whole table rather than one neighbourhood.
    private var evictionHand = 0
    /// Dynamic entries compared per eviction: the least recently used of a
    /// sample approximates true LRU at a bounded cost per new sender, which a
    /// flood of new senders must not be able to turn into a scan per packet.
    static let evictionSample = 16

    /// - Parameter capacity: the most entries held; rounded up to a power of two,
    ///   and the table refuses new entries beyond 3/4 full to keep probes short.
    public init(capacity: Int = 1024, lifetime: TimeSpan = .seconds(60)) {
        var size = 16
        while size < capacity * 4 / 3 + 1 { size <<= 1 }
        entries = .allocate(capacity: size)
        entries.initialize(repeating: Entry(address: .any, mac: .zero, expiresAt: .zero, state: .empty))
        mask = size - 1
        self.lifetime = lifetime
    }

    deinit { entries.deallocate() }

    public var capacity: Int { (mask + 1) * 3 / 4 }

    private func slot(for address: IPv4Address) -> Int {
        // Fibonacci hashing spreads consecutive addresses of one subnet.
        Int(truncatingIfNeeded: (UInt64(address.value) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Index of `address`'s entry, or of the empty slot where it would go.
    private func probe(_ address: IPv4Address) -> Int {
        var index = slot(for: address)
        while entries[index].state != .empty && entries[index].address != address {
            index = (index + 1) & mask
        }
        return index
    }

    /// The Ethernet address for `address`, if known and not expired.
    public func lookup(_ address: IPv4Address, now: Instant) -> MACAddress? {
        let entry = entries[probe(address)]
        switch entry.state {
        case .empty: return nil
        case .staticEntry: return entry.mac
        case .dynamic: return entry.expiresAt > now ? entry.mac : nil
        }
    }

    /// Where to send a frame for `address`: the Ethernet address, if known and
    /// not expired for longer than `staleGrace`, and whether to send an ARP
    /// request to confirm a stale entry now (at most once per `probeInterval`).
    public mutating func resolve(_ address: IPv4Address, now: Instant) -> (mac: MACAddress?, probe: Bool) {
        let index = probe(address)
        let entry = entries[index]
        switch entry.state {
        case .empty:
            return (nil, false)
        case .staticEntry:
            return (entry.mac, false)
        case .dynamic:
            entries[index].lastUsed = now
            if entry.expiresAt > now { return (entry.mac, false) }
            guard now < entry.expiresAt + Self.staleGrace else { return (nil, false) }
            guard now >= entry.nextProbe else { return (entry.mac, false) }
            entries[index].nextProbe = now + Self.probeInterval
            return (entry.mac, true)
        }
    }

    /// True when `address` has an entry (expired or not): RFC 826's merge rule
    /// updates only such entries from ARP traffic not addressed to us.
    public func contains(_ address: IPv4Address) -> Bool { entries[probe(address)].state != .empty }

    /// Records what the wire said. Static entries win; a new address in a full
    /// table evicts the least recently used dynamic entry (the caller counts it).
    @discardableResult
    public mutating func learn(_ address: IPv4Address, _ mac: MACAddress, now: Instant) -> LearnOutcome {
        var index = probe(address)
        switch entries[index].state {
        case .staticEntry:
            return .stored
        case .dynamic:
            entries[index].mac = mac
            entries[index].expiresAt = now + lifetime
            entries[index].lastUsed = now
            return .stored
        case .empty:
            var outcome = LearnOutcome.stored
            if count == capacity {
                guard evictLeastRecentlyUsed() else { return .refused }
                outcome = .storedEvicting
                index = probe(address)  // the removal may have shifted the probe chain
            }
            entries[index] = Entry(address: address, mac: mac, expiresAt: now + lifetime, state: .dynamic,
                                   lastUsed: now)
            count += 1
            return outcome
        }
    }

    /// Removes the least recently used of the next `evictionSample` dynamic
    /// entries after the hand; false when the table holds no dynamic entry.
    private mutating func evictLeastRecentlyUsed() -> Bool {
        var victim: Int?
        var sampled = 0
        var visited = 0
        var index = evictionHand
        while sampled < Self.evictionSample && visited <= mask {
            if entries[index].state == .dynamic {
                if victim == nil || entries[index].lastUsed < entries[victim!].lastUsed { victim = index }
                sampled += 1
            }
            index = (index + 1) & mask
            visited += 1
        }
        evictionHand = index
        guard let victim else { return false }
        remove(at: victim)
        return true
    }

    /// Empties slot `index` and moves later entries of its probe chain back
    /// into the hole (backward-shift deletion), so every remaining entry stays
    /// reachable from its home slot without tombstones.
    private mutating func remove(at index: Int) {
        var hole = index
        var next = (hole + 1) & mask
        while entries[next].state != .empty {
            let home = slot(for: entries[next].address)
            // The entry may fill the hole only if its home is not after the hole
            // (cyclically) on the way to where it sits now.
            if (next - home) & mask >= (next - hole) & mask {
                entries[hole] = entries[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        entries[hole] = Entry(address: .any, mac: .zero, expiresAt: .zero, state: .empty)
        count -= 1
    }

    /// Adds or replaces a permanent entry (from arp.conf).
    @discardableResult
    public mutating func addStatic(_ address: IPv4Address, _ mac: MACAddress) -> Bool {
        let index = probe(address)
        if entries[index].state == .empty {
            guard count < capacity else { return false }
            count += 1
        }
        entries[index] = Entry(address: address, mac: mac, expiresAt: .zero, state: .staticEntry)
        return true
    }
}
