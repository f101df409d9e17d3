import Synchronization

/// The neighbour table of a port (IPv4 address -> Ethernet address), shared by
/// every core's engine: an ARP packet that lands on any queue teaches every core.
///
/// Read on each outgoing packet, written only by ARP, so it is built for readers:
/// a fixed array of buckets of `ways` entries, each bucket guarded by a sequence
/// counter (a seqlock). A reader takes no lock and writes nothing it shares
/// (except a coarse "in use" stamp, below): it reads the counter, the entry, then
/// the counter again, and retries if a writer was at work in between. Writers, on
/// any core, take the bucket by moving its counter from even to odd with a
/// compare-and-swap, so two cores learning at once never interleave, and a new
/// address can never be stored twice in one bucket.
///
/// This value is a view: the memory belongs to an `ARPTableStorage`, which must
/// outlive it (an engine keeps its storage), so engines pass it around with no
/// reference counting on the packet path.
///
/// Static entries (arp.conf) never expire and nothing on the wire changes them.
/// Dynamic entries live for `lifetime` after they were last confirmed. A new
/// neighbour takes, in its bucket: an empty place, else the dynamic entry that
/// no core has sent through for the longest, among those not used within
/// `inUseWindow` (never-used entries first, oldest learned first); if every
/// entry of the bucket is static or in use, it is refused. So a flood of ARP
/// from new senders turns over only entries nobody sends to, in memory fixed at
/// start.
///
/// Times are engine clock values: every core's clock follows the monotonic
/// clock's time line, so entries written by one core expire on the others at
/// the same moment (to within the clocks' re-anchoring error, microseconds).
public struct ARPTable: @unchecked Sendable {
    /// What `learn` did with what the wire said.
    public enum LearnOutcome: Equatable {
        /// Stored, with no other entry lost.
        case stored
        /// Already there with this MAC (at most its expiry moved): readers and
        /// waiting frames have nothing new to look at.
        case unchanged
        /// Stored in place of a dynamic entry not in use.
        case storedEvicting
        /// Stored: the neighbour moved to another Ethernet address.
        case macChanged
        /// Not stored: another Ethernet address for an entry confirmed within
        /// `lockTime` (a forged ARP racing the real neighbour's, or two answers).
        case macChangeIgnored
        /// Not stored: every entry of its bucket is static or in use.
        case refused
        /// A static entry holds the address with another Ethernet address:
        /// nothing changed (a spoofed or misconfigured sender).
        case conflictsWithStatic
    }

    enum State: UInt64 { case empty = 0, dynamic = 1, staticEntry = 2 }

    /// Entries per bucket: a lookup compares at most this many addresses.
    static let ways = 8
    /// Per bucket: its sequence counter, the ways' keys (address << 8 | state),
    /// their Ethernet addresses, and their expiry times, padded to whole cache
    /// lines (the storage starts on one): a writer on one bucket never
    /// invalidates the line readers of the next bucket use.
    static let wordsPerBucket = (1 + 3 * ways + wordsPerCacheLine - 1) / wordsPerCacheLine * wordsPerCacheLine
    private static let wordsPerCacheLine = 64 / MemoryLayout<UInt64>.stride
    /// Per way, outside the seqlock (advisory; a race costs at most an early
    /// eviction or a second probe): when a core last sent through it, and when
    /// the next request confirming a stale entry may go out.
    static let stampsPerWay = 2

    /// How long past its lifetime an entry is still used while a request
    /// confirms it (Linux's STALE/PROBE states): traffic to a neighbour that
    /// stays silent on ARP goes on, instead of queueing behind a resolution
    /// every `lifetime` (a burst of resets then overflowed the pending queue).
    public static let staleGrace = TimeSpan.seconds(5)
    /// Requests confirming a stale entry go out at most this often (from all cores together).
    public static let probeInterval = TimeSpan.seconds(1)
    /// A MAC change for an entry confirmed within this time is ignored (Linux's
    /// locktime, 1 s): the table is shared, so one forged ARP would otherwise
    /// redirect every core's traffic to a neighbour (the gateway) at once, and
    /// the real neighbour's next ARP, renewing the lock, keeps its entry. Unlike
    /// Linux, a gratuitous ARP does not bypass the lock (a forger would send
    /// just that); a host that really moved announces twice, 2 s apart (RFC
    /// 5227), and our next request after its old entry lapses finds it too.
    public static let lockTime = TimeSpan.seconds(1)
    /// An entry some core sent through within this time is in use: new neighbours never evict it.
    public static let inUseWindow = TimeSpan.seconds(10)
    /// The "in use" stamp is rewritten at most this often, so cores sending to
    /// one neighbour do not pass its cache line back and forth on every packet.
    static let stampGranularity = TimeSpan.seconds(1)
    /// The "in use" stamp of an entry no core has sent through yet.
    static let neverUsed: UInt64 = 0

    let words: UnsafeMutablePointer<Atomic<UInt64>>
    let stamps: UnsafeMutablePointer<Atomic<UInt64>>
    /// [0]: the generation, bumped whenever an entry is stored; [1]: the entry count.
    let totals: UnsafeMutablePointer<Atomic<UInt64>>
    let bucketMask: Int
    /// How long a learned entry is trusted (Linux's base_reachable_time is 30 s,
    /// stale entries are reused for up to a minute).
    public let lifetime: TimeSpan

    public var capacity: Int { (bucketMask + 1) * Self.ways }
    public var count: Int { Int(totals[1].load(ordering: .relaxed)) }
    /// Changes whenever an entry is stored: a core with frames waiting for
    /// resolution looks at the table again only when this moved.
    public var generation: UInt64 { totals[0].load(ordering: .acquiring) }

    // MARK: Readers

    /// A consistent copy of one way, read under the bucket's sequence counter.
    struct Found {
        var way: Int
        var state: State
        var mac: MACAddress
        var expiresAt: Instant
    }

    @inline(__always)
    func bucket(for address: IPv4Address) -> Int {
        // Fibonacci hashing spreads consecutive addresses of one subnet.
        Int(truncatingIfNeeded: (UInt64(address.value) &* 0x9E37_79B9_7F4A_7C15) >> 32) & bucketMask
    }

    @inline(__always)
    private func sequence(_ bucket: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { words + bucket * Self.wordsPerBucket }
    @inline(__always)
    private func key(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { sequence(bucket) + 1 + way }
    @inline(__always)
    private func mac(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        sequence(bucket) + 1 + Self.ways + way
    }
    @inline(__always)
    private func expiry(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        sequence(bucket) + 1 + 2 * Self.ways + way
    }
    @inline(__always)
    private func lastUsed(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        stamps + (bucket * Self.ways + way) * Self.stampsPerWay
    }
    @inline(__always)
    private func nextProbe(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        lastUsed(bucket, way) + 1
    }

    @inline(__always)
    private static func key(_ address: IPv4Address, _ state: State) -> UInt64 {
        UInt64(address.value) << 8 | state.rawValue
    }

    /// `address`'s entry as one writer left it, or nil. Never blocks: it retries
    /// while a writer holds the bucket (a handful of stores).
    @inline(__always)
    func find(_ address: IPv4Address, in bucket: Int) -> Found? {
        let wanted = UInt64(address.value)
        while true {
            let before = sequence(bucket).pointee.load(ordering: .acquiring)
            var found: Found?
            for way in 0..<Self.ways {
                let key = key(bucket, way).pointee.load(ordering: .relaxed)
                guard key >> 8 == wanted, let state = State(rawValue: key & 0xFF), state != .empty else { continue }
                found = Found(way: way, state: state,
                              mac: MACAddress(mac(bucket, way).pointee.load(ordering: .relaxed)),
                              expiresAt: Instant(nanoseconds: expiry(bucket, way).pointee.load(ordering: .relaxed)))
                break
            }
            atomicMemoryFence(ordering: .acquiring)
            if before & 1 == 0 && sequence(bucket).pointee.load(ordering: .relaxed) == before { return found }
        }
    }

    /// The Ethernet address for `address`, if known and not expired.
    public func lookup(_ address: IPv4Address, now: Instant) -> MACAddress? {
        guard let entry = find(address, in: bucket(for: address)) else { return nil }
        return entry.state == .staticEntry || entry.expiresAt > now ? entry.mac : nil
    }

    /// True when `address` has an entry (expired or not): RFC 826's merge rule
    /// updates only such entries from ARP traffic not addressed to us.
    public func contains(_ address: IPv4Address) -> Bool { find(address, in: bucket(for: address)) != nil }

    /// Where to send a frame for `address` (the per-packet path): the Ethernet
    /// address, if known and not expired for longer than `staleGrace`, and
    /// whether this caller should send an ARP request to confirm a stale entry
    /// now (one core at most per `probeInterval`). Marks the entry in use.
    @inline(__always)
    public func resolve(_ address: IPv4Address, now: Instant) -> (mac: MACAddress?, probe: Bool) {
        let bucket = bucket(for: address)
        guard let entry = find(address, in: bucket) else { return (nil, false) }
        if entry.state == .staticEntry { return (entry.mac, false) }
        guard now < entry.expiresAt + Self.staleGrace else { return (nil, false) }
        let used = lastUsed(bucket, entry.way)
        let stamp = used.pointee.load(ordering: .relaxed)
        if stamp == Self.neverUsed || stamp + Self.stampGranularity.nanoseconds <= now.nanoseconds {
            used.pointee.store(now.nanoseconds | 1, ordering: .relaxed)  // odd: never `neverUsed`
        }
        guard entry.expiresAt <= now else { return (entry.mac, false) }
        let probe = nextProbe(bucket, entry.way)
        let due = probe.pointee.load(ordering: .relaxed)
        guard now.nanoseconds >= due else { return (entry.mac, false) }
        let won = probe.pointee.compareExchange(expected: due, desired: (now + Self.probeInterval).nanoseconds,
                                                ordering: .relaxed).exchanged
        return (entry.mac, won)
    }

    // MARK: Writers

    /// Takes `bucket` for writing (its counter made odd: readers retry until
    /// `endWrite`), waiting out a writer on another core. Returns the even
    /// value the counter had.
    private func beginWrite(_ bucket: Int) -> UInt64 {
        let counter = sequence(bucket)
        while true {
            let current = counter.pointee.load(ordering: .relaxed)
            if current & 1 == 0,
               counter.pointee.compareExchange(expected: current, desired: current | 1, ordering: .acquiring).exchanged {
                // The odd value must be visible before any entry store is (a reader
                // that sees a new store then sees the counter moved).
                atomicMemoryFence(ordering: .releasing)
                return current
            }
        }
    }

    /// Releases `bucket`: the counter moves on when something was written, so
    /// readers that overlapped retry; otherwise it goes back to what it was.
    private func endWrite(_ bucket: Int, from before: UInt64, changed: Bool) {
        sequence(bucket).pointee.store(changed ? before &+ 2 : before, ordering: .releasing)
        if changed { totals[0].add(1, ordering: .releasing) }
    }

    private func write(_ bucket: Int, _ way: Int, _ address: IPv4Address, _ mac: MACAddress, state: State,
                       expiresAt: Instant) {
        key(bucket, way).pointee.store(Self.key(address, state), ordering: .relaxed)
        self.mac(bucket, way).pointee.store(mac.value, ordering: .relaxed)
        expiry(bucket, way).pointee.store(expiresAt.nanoseconds, ordering: .relaxed)
        nextProbe(bucket, way).pointee.store(0, ordering: .relaxed)
    }

    /// Where `address` goes in `bucket` (the caller holds the bucket).
    enum Place {
        case existing(way: Int, State)
        case empty(way: Int)
        /// A dynamic entry not in use, to be replaced.
        case victim(way: Int)
    }

    /// `address`'s way, else an empty way, else the dynamic entry a new one may
    /// replace (see the type's comment); nil when there is none.
    private func place(for address: IPv4Address, in bucket: Int, now: Instant) -> Place? {
        var empty: Int?
        var victim: (way: Int, lastUsed: UInt64, expiresAt: UInt64)?
        for way in 0..<Self.ways {
            let key = key(bucket, way).pointee.load(ordering: .relaxed)
            let state = State(rawValue: key & 0xFF) ?? .empty
            if state != .empty && key >> 8 == UInt64(address.value) { return .existing(way: way, state) }
            switch state {
            case .empty:
                if empty == nil { empty = way }
            case .staticEntry:
                break
            case .dynamic:
                let used = lastUsed(bucket, way).pointee.load(ordering: .relaxed)
                guard used == Self.neverUsed || used + Self.inUseWindow.nanoseconds <= now.nanoseconds else { continue }
                let expires = expiry(bucket, way).pointee.load(ordering: .relaxed)
                if victim == nil || (used, expires) < (victim!.lastUsed, victim!.expiresAt) {
                    victim = (way, used, expires)
                }
            }
        }
        if let empty { return .empty(way: empty) }
        return victim.map { .victim(way: $0.way) }
    }

    /// Records what the wire said: `address` is at `mac`. Static entries win;
    /// a new address in a full bucket replaces an entry not in use (the caller
    /// counts evictions and refusals).
    @discardableResult
    public func learn(_ address: IPv4Address, _ mac: MACAddress, now: Instant) -> LearnOutcome {
        let bucket = bucket(for: address)
        let before = beginWrite(bucket)
        let outcome: LearnOutcome
        switch place(for: address, in: bucket, now: now) {
        case nil:
            outcome = .refused
        case .existing(let way, .staticEntry):
            outcome = self.mac(bucket, way).pointee.load(ordering: .relaxed) == mac.value ? .unchanged : .conflictsWithStatic
        case .existing(let way, _) where self.mac(bucket, way).pointee.load(ordering: .relaxed) == mac.value:
            // A confirmation: only the expiry moves, one word, so a reader sees
            // either value with the right MAC and need not retry. Waiting frames
            // need a look only if the entry had lapsed (`resolve` refused it).
            let expires = expiry(bucket, way)
            let lapsed = expires.pointee.load(ordering: .relaxed) + Self.staleGrace.nanoseconds <= now.nanoseconds
            expires.pointee.store((now + lifetime).nanoseconds, ordering: .relaxed)
            nextProbe(bucket, way).pointee.store(0, ordering: .relaxed)
            outcome = lapsed ? .stored : .unchanged
        case .existing(let way, _):
            let confirmedAt = expiry(bucket, way).pointee.load(ordering: .relaxed) &- lifetime.nanoseconds
            if now.nanoseconds < confirmedAt &+ Self.lockTime.nanoseconds {
                outcome = .macChangeIgnored
            } else {
                write(bucket, way, address, mac, state: .dynamic, expiresAt: now + lifetime)
                outcome = .macChanged
            }
        case .empty(let way):
            write(bucket, way, address, mac, state: .dynamic, expiresAt: now + lifetime)
            lastUsed(bucket, way).pointee.store(Self.neverUsed, ordering: .relaxed)
            totals[1].add(1, ordering: .relaxed)
            outcome = .stored
        case .victim(let way):
            write(bucket, way, address, mac, state: .dynamic, expiresAt: now + lifetime)
            lastUsed(bucket, way).pointee.store(Self.neverUsed, ordering: .relaxed)
            outcome = .storedEvicting
        }
        endWrite(bucket, from: before, changed: outcome == .stored || outcome == .storedEvicting || outcome == .macChanged)
        return outcome
    }

    /// Adds or replaces a permanent entry (arp.conf, before any core runs).
    /// False when its bucket holds only static entries already.
    func addStatic(_ address: IPv4Address, _ mac: MACAddress) -> Bool {
        let bucket = bucket(for: address)
        let before = beginWrite(bucket)
        let way: Int?
        switch place(for: address, in: bucket, now: .zero) {
        case nil: way = nil
        case .existing(let existing, _), .victim(let existing): way = existing
        case .empty(let empty):
            totals[1].add(1, ordering: .relaxed)
            way = empty
        }
        if let way { write(bucket, way, address, mac, state: .staticEntry, expiresAt: .zero) }
        endWrite(bucket, from: before, changed: way != nil)
        return way != nil
    }
}
