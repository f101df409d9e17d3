import Dispatch
import Synchronization
import Testing
@testable import MTCP

/// The neighbour table under cores that write and read it at once: readers
/// never see half of one write and half of another, and concurrent writers
/// lose nothing.
@Suite struct ARPTableConcurrencyTests {
    static let address = IPv4Address(198, 18, 0, 2)

    /// Host number `host` (< 65536) of 10.`subnet`.0.0/16.
    static func host(_ host: Int, on subnet: Int) -> IPv4Address {
        IPv4Address(10, UInt8(subnet), UInt8(host >> 8 & 0xFF), UInt8(host & 0xFF))
    }
    static let writes: [(mac: MACAddress, now: Instant)] = [
        (MACAddress(0x02, 0, 0, 0, 0, 0x0A), Instant.zero + .seconds(1)),
        (MACAddress(0x02, 0, 0, 0xBB, 0xBB, 0x0B), Instant.zero + .seconds(2)),
    ]

    @Test func readersSeeEveryEntryWhole() {
        let storage = ARPTableStorage(capacity: 64)
        let table = storage.table
        let rounds = 200_000
        let torn = Counter()
        // Two writers alternate the entry between two (MAC, expiry) pairs while two
        // readers check that each pair they see is one a writer wrote.
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            if thread < 2 {
                let (mac, now) = Self.writes[thread]
                for _ in 0..<rounds { table.learn(Self.address, mac, now: now) }
            } else {
                var seen = 0
                for _ in 0..<rounds {
                    guard let entry = table.find(Self.address, in: table.bucket(for: Self.address)) else { continue }
                    let write = Self.writes.first { $0.mac == entry.mac }
                    if write.map({ $0.now + table.lifetime }) != entry.expiresAt { seen += 1 }
                }
                torn.add(seen)
            }
        }
        #expect(torn.value == 0)
    }

    @Test func concurrentWritersLoseNoEntry() {
        let storage = ARPTableStorage(capacity: 16384)
        let table = storage.table
        let perWriter = 1000
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            for number in 0..<perWriter {
                let host = writer * perWriter + number
                table.learn(Self.host(host, on: writer),
                            MACAddress(UInt64(host + 1)), now: .zero)
            }
        }
        #expect(table.count == 2 * perWriter)
        for writer in 0..<2 {
            for number in 0..<perWriter {
                let host = writer * perWriter + number
                #expect(table.lookup(Self.host(host, on: writer), now: .zero) == MACAddress(UInt64(host + 1)))
            }
        }
    }

    /// Two cores learning the same new neighbour at once (both got its request,
    /// or its answer and a request) store it once: the second finds the first's entry.
    @Test func aNewAddressLearnedByTwoCoresAtOnceIsStoredOnce() {
        let storage = ARPTableStorage(capacity: 65536)
        let table = storage.table
        let addresses = 4000
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            for host in 0..<addresses {
                table.learn(Self.host(host, on: 1),
                            MACAddress(UInt64(0x0200_0000_0000 | writer << 16 | host)), now: .zero)
            }
        }
        #expect(table.count == addresses, "each address in exactly one entry")
        for host in 0..<addresses {
            #expect(table.lookup(Self.host(host, on: 1), now: .zero).map { $0.value & 0xFFFF } == UInt64(host))
        }
    }
}

/// A total the test threads add to.
private final class Counter: Sendable {
    private let total = Atomic<Int>(0)
    func add(_ amount: Int) { total.add(amount, ordering: .relaxed) }
    var value: Int { total.load(ordering: .relaxed) }
}
