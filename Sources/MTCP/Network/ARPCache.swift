/// The neighbour table of one engine: IPv4 address -> Ethernet address.
///
/// Open addressing with linear probing over storage allocated once, so lookups
/// and updates on the data path never allocate. Static entries (arp.conf) never
/// expire and are never overwritten by what the wire says; dynamic entries live
/// for `lifetime` after they were last confirmed.
public struct ARPCache: ~Copyable {
    struct Entry {
        var address: IPv4Address
        var mac: MACAddress
        var expiresAt: Instant
        var state: State
        /// Stale entries: when the next confirming request may go out.
        var nextProbe = Instant.zero
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

    /// Records what the wire said. Static entries win; returns false when the
    /// table is full (the caller counts it).
    @discardableResult
    public mutating func learn(_ address: IPv4Address, _ mac: MACAddress, now: Instant) -> Bool {
        let index = probe(address)
        switch entries[index].state {
        case .staticEntry:
            return true
        case .dynamic:
            entries[index].mac = mac
            entries[index].expiresAt = now + lifetime
            return true
        case .empty:
            guard count < capacity else { return false }
            entries[index] = Entry(address: address, mac: mac, expiresAt: now + lifetime, state: .dynamic)
            count += 1
            return true
        }
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
