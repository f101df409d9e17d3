import Synchronization

/// The memory of a `NeighbourTable`, allocated once at start and shared by the
/// engines of every core of a port (each engine keeps a reference, so the table
/// lives as long as the last of them).
public final class NeighbourTableStorage<Address: NeighbourAddress>: Sendable {
    /// The table itself, for the engines' per-packet use.
    public let table: NeighbourTable<Address>

    /// - Parameters:
    ///   - capacity: the fewest entries held; rounded up to whole buckets, a
    ///     power of two of them, and grown further if the static entries crowd
    ///     one bucket (they must all fit: nothing evicts them).
    ///   - staticEntries: the arp.conf entries, permanent.
    public init(capacity: Int = 1024, lifetime: TimeSpan = .seconds(60),
                staticEntries: [(address: Address, mac: MACAddress)]) {
        var buckets = 1
        while buckets * NeighbourTable<Address>.ways < capacity { buckets <<= 1 }
        while true {
            let table = Self.allocate(buckets: buckets, lifetime: lifetime)
            if staticEntries.allSatisfy({ table.addStatic($0.address, $0.mac) }) {
                self.table = table
                break
            }
            Self.deallocate(table)
            buckets <<= 1
        }
    }

    deinit { Self.deallocate(table) }

    private static func allocate(buckets: Int, lifetime: TimeSpan) -> NeighbourTable<Address> {
        typealias Table = NeighbourTable<Address>
        return Table(words: atomics(buckets * Table.wordsPerBucket),
                 stamps: atomics(buckets * Table.ways * Table.stampsPerWay),
                 totals: atomics(2), bucketMask: buckets - 1, lifetime: lifetime)
    }

    /// `count` zeroed atomic words starting on a cache line boundary (the
    /// words are plain integers: no deinitialisation is needed before freeing).
    private static func atomics(_ count: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<UInt64>.stride, alignment: 64)
        let words = raw.bindMemory(to: Atomic<UInt64>.self, capacity: count)
        for index in 0..<count { (words + index).initialize(to: Atomic(0)) }
        return words
    }

    private static func deallocate(_ table: NeighbourTable<Address>) {
        for words in [table.words, table.stamps, table.totals] { UnsafeMutableRawPointer(words).deallocate() }
    }
}

public typealias ARPTableStorage = NeighbourTableStorage<IPv4Address>
public typealias NDTableStorage = NeighbourTableStorage<IPv6Address>

extension NeighbourTableStorage where Address == IPv4Address {
    public convenience init(capacity: Int = 1024, lifetime: TimeSpan = .seconds(60),
                            staticNeighbours: [EngineConfiguration.StaticNeighbour] = []) {
        self.init(capacity: capacity, lifetime: lifetime,
                  staticEntries: staticNeighbours.map { (address: $0.address, mac: $0.mac) })
    }
}

extension NeighbourTableStorage where Address == IPv6Address {
    public convenience init(capacity: Int = 1024, lifetime: TimeSpan = .seconds(60),
                            staticNeighbours: [IPv6Configuration.StaticNeighbour] = []) {
        self.init(capacity: capacity, lifetime: lifetime,
                  staticEntries: staticNeighbours.map { (address: $0.address, mac: $0.mac) })
    }
}
