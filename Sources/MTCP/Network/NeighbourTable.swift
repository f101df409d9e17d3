import Synchronization

/// The neighbour table of a port (IP address -> Ethernet address), shared by
/// every core's engine: an ARP or Neighbor Discovery packet that lands on any
/// queue teaches every core. One design serves both families
/// (`ARPTable` for IPv4, `NDTable` for IPv6): an address takes
/// `Address.keyWords` words of a bucket, so IPv4's buckets are as before.
///
/// Linux's neighbour states map onto an entry's life as follows: INCOMPLETE is
/// a next hop in an engine's `ResolutionQueue` (no entry yet); REACHABLE an
/// entry before its expiry. For IPv6, STALE, DELAY, PROBE and FAILED follow
/// RFC 4861 §7.3 (NeighbourTable+Unreachability.swift). For IPv4, ARP keeps a
/// simpler grace: for `staleGrace` after the expiry frames still go to the
/// known address while one ARP request a second confirms it; then the entry is
/// unusable and the next frame starts a resolution again. `state(of:now:)`
/// reports them.
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
public struct NeighbourTable<Address: NeighbourAddress>: @unchecked Sendable {
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
    static var ways: Int { 8 }
    /// Per bucket: its sequence counter, the ways' keys (`Address.keyWords`
    /// each, the entry's state in the first word's low byte),
    /// their Ethernet addresses, and their expiry times, padded to whole cache
    /// lines (the storage starts on one): a writer on one bucket never
    /// invalidates the line readers of the next bucket use.
    static var wordsPerBucket: Int {
        (1 + (Address.keyWords + 2) * ways + wordsPerCacheLine - 1) / wordsPerCacheLine * wordsPerCacheLine
    }
    private static var wordsPerCacheLine: Int { 64 / MemoryLayout<UInt64>.stride }
    /// Per way, outside the seqlock (advisory; a race costs at most an early
    /// eviction or a second probe): when a core last sent through it, and when
    /// the next request confirming a stale entry may go out.
    static var stampsPerWay: Int { 2 }

    /// How long past its lifetime an entry is still used while a request
    /// confirms it (Linux's STALE/PROBE states): traffic to a neighbour that
    /// stays silent on ARP goes on, instead of queueing behind a resolution
    /// every `lifetime` (a burst of resets then overflowed the pending queue).
    public static var staleGrace: TimeSpan { TimeSpan.seconds(5) }
    /// Requests confirming a stale entry go out at most this often (from all cores together).
    public static var probeInterval: TimeSpan { TimeSpan.seconds(1) }
    /// A MAC change for an entry confirmed within this time is ignored (Linux's
    /// locktime, 1 s): the table is shared, so one forged ARP would otherwise
    /// redirect every core's traffic to a neighbour (the gateway) at once, and
    /// the real neighbour's next ARP, renewing the lock, keeps its entry. Unlike
    /// Linux, a gratuitous ARP does not bypass the lock (a forger would send
    /// just that); a host that really moved announces twice, 2 s apart (RFC
    /// 5227), and our next request after its old entry lapses finds it too.
    /// As in Linux (neigh_event_ns) and RFC 4861 §7.2.3, a request or
    /// solicitation for our own address does bypass it: a host that just came
    /// back at another MAC (a restarted client, a replaced NIC) asks for us
    /// before its first SYN, and under the lock our SYN-ACKs went to its old
    /// MAC for the seconds until its second announcement. Such a move is
    /// stored STALE, as Linux does: used at once and confirmed by our next
    /// request (IPv4) or unreachability detection (IPv6); unlike Linux it
    /// locks nothing, so the real owner's answer takes back a move forged by
    /// a single frame. ARP and unsecured ND authenticate nothing: the lock
    /// settles racing answers, and an on-link forger determined to win (one
    /// that waits it out, or answers our requests) wins here as on Linux;
    /// static entries (arp.conf) are the defence.
    public static var lockTime: TimeSpan { TimeSpan.seconds(1) }
    /// An entry some core sent through within this time is in use: new neighbours never evict it.
    public static var inUseWindow: TimeSpan { TimeSpan.seconds(10) }
    /// The "in use" stamp is rewritten at most this often, so cores sending to
    /// one neighbour do not pass its cache line back and forth on every packet.
    static var stampGranularity: TimeSpan { .seconds(1) }
    /// The "in use" stamp of an entry no core has sent through yet.
    static var neverUsed: UInt64 { 0 }

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
    func bucket(for address: Address) -> Int {
        // Fibonacci hashing spreads consecutive addresses of one subnet.
        Int(truncatingIfNeeded: (address.bucketHash &* 0x9E37_79B9_7F4A_7C15) >> 32) & bucketMask
    }

    @inline(__always)
    private func sequence(_ bucket: Int) -> UnsafeMutablePointer<Atomic<UInt64>> { words + bucket * Self.wordsPerBucket }
    @inline(__always)
    private func key(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        sequence(bucket) + 1 + way * Address.keyWords
    }
    @inline(__always)
    private func mac(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        sequence(bucket) + 1 + Self.ways * Address.keyWords + way
    }
    @inline(__always)
    private func expiry(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        sequence(bucket) + 1 + Self.ways * (Address.keyWords + 1) + way
    }
    @inline(__always)
    private func lastUsed(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        stamps + (bucket * Self.ways + way) * Self.stampsPerWay
    }
    /// IPv4: when the next ARP request confirming a stale entry may go out;
    /// IPv6: the entry's NUD timer (`UnreachabilityTimer`, 0 when none runs).
    @inline(__always)
    func nextProbe(_ bucket: Int, _ way: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        lastUsed(bucket, way) + 1
    }

    /// The state of `way` when it holds `address`, else nil (empty or another address).
    @inline(__always)
    private func state(of address: Address, in bucket: Int, _ way: Int) -> State? {
        let keys = key(bucket, way)
        let first = keys.pointee.load(ordering: .relaxed)
        guard first & ~0xFF == address.keyWord(0), let state = State(rawValue: first & 0xFF), state != .empty else {
            return nil
        }
        for index in 1..<Address.keyWords where (keys + index).pointee.load(ordering: .relaxed) != address.keyWord(index) {
            return nil
        }
        return state
    }

    /// `address`'s entry as one writer left it, or nil. Never blocks: it retries
    /// while a writer holds the bucket (a handful of stores).
    @inline(__always)
    func find(_ address: Address, in bucket: Int) -> Found? {
        while true {
            let before = sequence(bucket).pointee.load(ordering: .acquiring)
            var found: Found?
            for way in 0..<Self.ways {
                guard let state = self.state(of: address, in: bucket, way) else { continue }
                found = Found(way: way, state: state,
                              mac: MACAddress(mac(bucket, way).pointee.load(ordering: .relaxed)),
                              expiresAt: Instant(nanoseconds: expiry(bucket, way).pointee.load(ordering: .relaxed)))
                break
            }
            atomicMemoryFence(ordering: .acquiring)
            if before & 1 == 0 && sequence(bucket).pointee.load(ordering: .relaxed) == before { return found }
        }
    }

    /// The Ethernet address for `address`, if known and usable: not expired
    /// (IPv4), not FAILED (IPv6, where a STALE entry is still used).
    public func lookup(_ address: Address, now: Instant) -> MACAddress? {
        let bucket = bucket(for: address)
        guard let entry = find(address, in: bucket) else { return nil }
        if entry.state == .staticEntry || entry.expiresAt > now { return entry.mac }
        guard Address.followsUnreachabilityDetection else { return nil }
        return Self.hasFailed(timer: nextProbe(bucket, entry.way).pointee.load(ordering: .relaxed), now: now)
            ? nil : entry.mac
    }

    /// True when `address` has an entry (expired or not): RFC 826's merge rule
    /// updates only such entries from ARP traffic not addressed to us.
    public func contains(_ address: Address) -> Bool { find(address, in: bucket(for: address)) != nil }

    /// Where to send a frame for `address` (the per-packet path): the Ethernet
    /// address, if known and usable, and whether this caller should send a
    /// request confirming it now. IPv4: usable until `staleGrace` after the
    /// expiry, an ARP request from one core at most per `probeInterval`; IPv6:
    /// Neighbor Unreachability Detection (NeighbourTable+Unreachability.swift).
    /// Marks the entry in use.
    @inline(__always)
    public func resolve(_ address: Address, now: Instant) -> (mac: MACAddress?, probe: Bool) {
        let bucket = bucket(for: address)
        guard let entry = find(address, in: bucket) else { return (nil, false) }
        if entry.state == .staticEntry { return (entry.mac, false) }
        guard Address.followsUnreachabilityDetection || now < entry.expiresAt + Self.staleGrace else {
            return (nil, false)
        }
        let used = lastUsed(bucket, entry.way)
        let stamp = used.pointee.load(ordering: .relaxed)
        if stamp == Self.neverUsed || stamp + Self.stampGranularity.nanoseconds <= now.nanoseconds {
            used.pointee.store(now.nanoseconds | 1, ordering: .relaxed)  // odd: never `neverUsed`
        }
        if Address.followsUnreachabilityDetection {
            return resolveFollowingUnreachabilityDetection(entry, in: bucket, now: now)
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

    private func write(_ bucket: Int, _ way: Int, _ address: Address, _ mac: MACAddress, state: State,
                       expiresAt: Instant) {
        let keys = key(bucket, way)
        keys.pointee.store(address.keyWord(0) | state.rawValue, ordering: .relaxed)
        for index in 1..<Address.keyWords { (keys + index).pointee.store(address.keyWord(index), ordering: .relaxed) }
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
    private func place(for address: Address, in bucket: Int, now: Instant) -> Place? {
        var empty: Int?
        var victim: (way: Int, lastUsed: UInt64, expiresAt: UInt64)?
        for way in 0..<Self.ways {
            if let existing = self.state(of: address, in: bucket, way) { return .existing(way: way, existing) }
            let state = State(rawValue: key(bucket, way).pointee.load(ordering: .relaxed) & 0xFF) ?? .empty
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
    /// counts evictions and refusals). `reachable` says whether the message
    /// proves the neighbour hears us (ARP, and RFC 4861 §7.3.3's solicited
    /// advertisement); one that does not (a solicitation, an unsolicited
    /// advertisement) stores a new or moved entry STALE and leaves a known one
    /// as it is, except that a FAILED entry comes back STALE. `overridingLock`
    /// moves an entry even within `lockTime`, and always STALE: for a
    /// neighbour asking for our own address (see `lockTime`).
    @discardableResult
    public func learn(_ address: Address, _ mac: MACAddress, now: Instant, reachable: Bool = true,
                      overridingLock: Bool = false) -> LearnOutcome {
        let bucket = bucket(for: address)
        let before = beginWrite(bucket)
        let outcome: LearnOutcome
        let expiresAt = reachable ? now + lifetime : now
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
            let timer = nextProbe(bucket, way)
            let lapsed = Address.followsUnreachabilityDetection
                ? Self.hasFailed(timer: timer.pointee.load(ordering: .relaxed), now: now)
                : expires.pointee.load(ordering: .relaxed) + Self.staleGrace.nanoseconds <= now.nanoseconds
            if reachable {
                expires.pointee.store(expiresAt.nanoseconds, ordering: .relaxed)
                timer.pointee.store(0, ordering: .relaxed)
            } else if lapsed {
                timer.pointee.store(0, ordering: .relaxed)  // FAILED -> STALE
            }
            outcome = lapsed ? .stored : .unchanged
        case .existing(let way, _):
            // Saturating: an entry whose expiry is within `lifetime` of the clock's
            // origin (an appliance started just after boot) must not wrap into
            // "confirmed in the far future", which would lock its MAC forever.
            let expires = expiry(bucket, way).pointee.load(ordering: .relaxed)
            let confirmedAt = expires > lifetime.nanoseconds ? expires - lifetime.nanoseconds : 0
            if !overridingLock && now.nanoseconds < confirmedAt &+ Self.lockTime.nanoseconds {
                outcome = .macChangeIgnored
            } else {
                write(bucket, way, address, mac, state: .dynamic, expiresAt: overridingLock ? now : expiresAt)
                outcome = .macChanged
            }
        case .empty(let way):
            write(bucket, way, address, mac, state: .dynamic, expiresAt: expiresAt)
            lastUsed(bucket, way).pointee.store(Self.neverUsed, ordering: .relaxed)
            totals[1].add(1, ordering: .relaxed)
            outcome = .stored
        case .victim(let way):
            write(bucket, way, address, mac, state: .dynamic, expiresAt: expiresAt)
            lastUsed(bucket, way).pointee.store(Self.neverUsed, ordering: .relaxed)
            outcome = .storedEvicting
        }
        endWrite(bucket, from: before, changed: outcome == .stored || outcome == .storedEvicting || outcome == .macChanged)
        return outcome
    }

    /// Adds or replaces a permanent entry (arp.conf, before any core runs).
    /// False when its bucket holds only static entries already.
    func addStatic(_ address: Address, _ mac: MACAddress) -> Bool {
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

/// The IPv4 neighbour table, filled by ARP.
public typealias ARPTable = NeighbourTable<IPv4Address>
/// The IPv6 neighbour cache, filled by Neighbor Discovery.
public typealias NDTable = NeighbourTable<IPv6Address>

/// What a neighbour table needs of an address: how it is stored in a bucket.
public protocol NeighbourAddress: Hashable, Sendable {
    /// Table words holding one address; the first word's low byte is left
    /// clear for the entry's state.
    static var keyWords: Int { get }
    /// Whether the family's entries follow RFC 4861's Neighbor Unreachability
    /// Detection (IPv6) rather than ARP's stale grace (IPv4).
    static var followsUnreachabilityDetection: Bool { get }
    /// Word `index` of the address's key.
    func keyWord(_ index: Int) -> UInt64
    /// Bits that spread addresses over buckets.
    var bucketHash: UInt64 { get }
}

extension IPv4Address: NeighbourAddress {
    public static var keyWords: Int { 1 }
    public static var followsUnreachabilityDetection: Bool { false }
    public func keyWord(_ index: Int) -> UInt64 { UInt64(value) << 8 }
    public var bucketHash: UInt64 { UInt64(value) }
}

extension IPv6Address: NeighbourAddress {
    public static var keyWords: Int { 3 }
    public static var followsUnreachabilityDetection: Bool { true }
    public func keyWord(_ index: Int) -> UInt64 { index == 0 ? 0 : index == 1 ? high : low }
    public var bucketHash: UInt64 { low ^ high.rotatedLeft(29) }
}
