import Testing
@testable import MTCP

/// On a steered port the stack trusts the NIC to deliver a flow where the
/// symmetric Toeplitz hash and the redirection table say. When the NIC spreads
/// otherwise (another key, another table, hashing the addresses only), the
/// segments that arrive on a core their hash does not name are counted, so the
/// operator sees why connections opened by the stack never complete.
@Suite struct SteeringMismatchTests {
    static let table = ActiveOpenSteeringTests.alternating

    /// The queue the NIC of the test gives a frame: by our hash and `table` when
    /// `asPredicted`, else always queue 0 (a NIC whose spreading we mispredict).
    static func nicQueue(_ frame: [UInt8], asPredicted: Bool) -> Int {
        // Ethernet, IPv4 with a 20-byte header, TCP: anything else to queue 0.
        guard asPredicted, frame.count >= 38, frame[12] == 0x08, frame[13] == 0x00, frame[23] == 6 else { return 0 }
        func address(_ at: Int) -> IPv4Address { IPv4Address(frame[at], frame[at + 1], frame[at + 2], frame[at + 3]) }
        func port(_ at: Int) -> UInt16 { UInt16(frame[at]) << 8 | UInt16(frame[at + 1]) }
        let tuple = FourTuple(localAddress: address(30), localPort: port(36),
                              remoteAddress: address(26), remotePort: port(34))
        return ActiveOpenSteeringTests.replyQueue(tuple, table)
    }

    /// Core 1 of station A connects to B through a NIC spreading as predicted or not;
    /// returns (connections core 1 established, mismatches counted on cores 0 and 1).
    static func connectFromCoreOne(asPredicted: Bool) throws -> (established: UInt64, mismatches: (UInt64, UInt64)) {
        let link = VirtualLink(seed: 14)
        let queues = link.makeQueues(macAddress: EngineNetworkTests.macA, count: 2, bufferCount: 256) {
            nicQueue($0, asPredicted: asPredicted)
        }
        func core(_ index: Int) -> Engine<VirtualPort> {
            var configuration = EngineConfiguration(
                address: IPv4Network(address: EngineNetworkTests.ipA, prefixLength: 24),
                staticNeighbours: [.init(address: EngineNetworkTests.ipB, mac: EngineNetworkTests.macB)])
            configuration.core = index
            configuration.spreading = .receiveSideScaling(redirectionTable: table)
            return Engine(device: queues[index], configuration: configuration)
        }
        var core0 = core(0)
        var core1 = core(1)
        var server = EngineNetworkTests.engine(link, mac: EngineNetworkTests.macB, ip: EngineNetworkTests.ipB) {
            $0.staticNeighbours = [.init(address: EngineNetworkTests.ipA, mac: EngineNetworkTests.macA)]
        }
        _ = try server.listen(port: 80)
        _ = try core1.connect(to: EngineNetworkTests.ipB, port: 80, now: link.now)
        for _ in 0..<50 {
            core0.step(now: link.now)
            core1.step(now: link.now)
            server.step(now: link.now)
            link.now = link.now + .milliseconds(1)
        }
        defer {
            core0.releaseAll()
            core1.releaseAll()
            server.releaseAll()
        }
        return (core1.tcpStatistics.established,
                (core0.statistics.steeringMismatches, core1.statistics.steeringMismatches))
    }

    @Test func aNICSpreadingAsPredictedCausesNoMismatch() throws {
        let outcome = try Self.connectFromCoreOne(asPredicted: true)
        #expect(outcome.established == 1)
        #expect(outcome.mismatches.0 == 0 && outcome.mismatches.1 == 0)
    }

    @Test func segmentsOnACoreTheirHashDoesNotNameAreCounted() throws {
        let outcome = try Self.connectFromCoreOne(asPredicted: false)
        #expect(outcome.established == 0, "the SYN-ACK reached core 0, which has no such connection")
        #expect(outcome.mismatches.0 >= 1, "core 0 counted the SYN-ACK meant for core 1")
        #expect(outcome.mismatches.1 == 0, "core 1 received nothing")
    }
}
