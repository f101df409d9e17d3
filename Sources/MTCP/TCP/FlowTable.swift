/// The per-core connection table: a flow's key (`IPv4FlowKey` or
/// `IPv6FlowKey`, one table per family) -> connection index.
///
/// Open addressing with linear probing over storage allocated once, kept at most
/// half full so that probe runs stay short and a lookup touches one or two cache
/// lines (entries are 20 bytes). Removal shifts the following entries of the run
/// back instead of leaving tombstones, so lookups cost the same after millions of
/// connections have come and gone as on a fresh table — a per-core table under
/// connection churn never needs rebuilding.
///
/// **Hash.** SipHash-1-3 of the key's bits (96 for IPv4, 288 for IPv6) under a
/// 128-bit `key`. Remote addresses and ports are chosen by peers, so a
/// predictable hash would let an attacker build long probe runs (hash flooding);
/// a keyed hash with a random key of each table's own (the engine's, drawn
/// at start: nothing else is keyed by it, and no restart keeps it) makes the
/// placement unpredictable from outside, and no output of it is
/// ever sent, so the hash-table variant (`SipHash.tableHash`) is enough: every
/// segment is looked up, and SipHash-2-4 cost about 170 instructions a lookup.
/// The bounded size (at most `capacity` entries, half the slots) caps the
/// damage either way.
public struct FlowTable<Key: FlowKey>: ~Copyable {
    struct Entry {
        var key: Key
        var occupied: Bool
        var value: Int32
    }

    private let entries: UnsafeMutableBufferPointer<Entry>
    private let mask: Int
    /// 64 - log2(slotCount): the hash's top bits pick the slot.
    private let shift: UInt64
    private let hasher: SipHash

    /// The most entries held: `insert` refuses more.
    public let capacity: Int
    /// Slots in the table: a power of two, at least twice `capacity`.
    public let slotCount: Int
    public private(set) var count = 0

    /// - Parameters:
    ///   - capacity: the most connections held (e.g. max_concurrency); the table
    ///     has the next power of two at or above twice as many slots.
    ///   - key: the hash's key; a random one in production (see above).
    public init(capacity: Int, key: SipHash = SipHash(key0: 0, key1: 0)) {
        precondition(capacity >= 1 && capacity <= 1 << 40, "flow table capacity out of range")
        var slots = 2
        while slots < capacity * 2 { slots <<= 1 }
        self.capacity = capacity
        slotCount = slots
        mask = slots - 1
        shift = UInt64(64 - slots.trailingZeroBitCount)
        hasher = key
        entries = .allocate(capacity: slots)
        entries.initialize(repeating: Entry(key: .blank, occupied: false, value: 0))
    }

    deinit { entries.deallocate() }

    // MARK: Hashing

    /// The slot where `key`'s probe run starts.
    @inline(__always)
    func homeSlot(for key: Key) -> Int {
        Int(truncatingIfNeeded: key.hash(with: hasher) >> shift)
    }

    /// Index of `key`'s entry, or of the empty slot that ends its probe run. Ends
    /// because the table is never more than half full.
    @inline(__always)
    private func probe(_ key: Key) -> Int {
        var index = homeSlot(for: key)
        while entries[index].occupied && entries[index].key != key {
            index = (index &+ 1) & mask
        }
        return index
    }

    // MARK: Operations

    /// The value stored for `key`.
    @inline(__always)
    public func lookup(_ key: Key) -> Int32? {
        let entry = entries[probe(key)]
        return entry.occupied ? entry.value : nil
    }

    /// Adds `key` -> `value`; false (and no change) when `key` is present or the
    /// table holds `capacity` entries.
    @discardableResult
    public mutating func insert(_ key: Key, _ value: Int32) -> Bool {
        let index = probe(key)
        guard !entries[index].occupied, count < capacity else { return false }
        entries[index] = Entry(key: key, occupied: true, value: value)
        count += 1
        return true
    }

    /// Removes `key`, returning its value, nil when absent.
    ///
    /// Backward shift: walk the run after the freed slot and move back each entry
    /// whose home slot is not cyclically within (hole, its position], i.e. one that
    /// the hole now separates from its home; the run stays gap-free, so lookups
    /// that stop at the first empty slot remain correct without tombstones.
    @discardableResult
    public mutating func remove(_ key: Key) -> Int32? {
        var hole = probe(key)
        guard entries[hole].occupied else { return nil }
        let value = entries[hole].value
        var index = (hole &+ 1) & mask
        while entries[index].occupied {
            let home = homeSlot(for: entries[index].key)
            // Distances travelled forward (cyclically) from home and from the hole.
            if (index &- home) & mask >= (index &- hole) & mask {
                entries[hole] = entries[index]
                hole = index
            }
            index = (index &+ 1) & mask
        }
        entries[hole].occupied = false
        count -= 1
        return value
    }

    // MARK: Testing support

    /// True when every entry is reachable from its home slot without crossing an
    /// empty slot, and `count` matches; O(slotCount), for tests.
    func checkInvariants() -> Bool {
        var occupied = 0
        for index in 0 ..< slotCount where entries[index].occupied {
            occupied += 1
            var probe = homeSlot(for: entries[index].key)
            while probe != index {
                if !entries[probe].occupied { return false }
                probe = (probe + 1) & mask
            }
        }
        return occupied == count
    }

    /// Where the entries live, to check that they never move.
    var storageAddress: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(entries.baseAddress) }
}
