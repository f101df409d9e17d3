import Testing
@testable import MTCP

/// `connect` on a core picks local ports whose replies the port delivers to
/// that core, still in RFC 6056's keyed order, and refuses rather than open a
/// flow another core would receive.
@Suite struct ActiveOpenSteeringTests {
    static let server = EngineNetworkTests.ipB

    /// A client engine on core `core` of a port spreading flows by `spreading`.
    static func client(_ link: VirtualLink, core: Int, spreading: FlowSpreading,
                       secret: SipHash = SipHash(key0: 1, key1: 2)) -> Engine<VirtualPort> {
        EngineNetworkTests.engine(link, mac: EngineNetworkTests.macA, ip: EngineNetworkTests.ipA) { configuration in
            configuration.core = core
            configuration.spreading = spreading
            configuration.secret = secret
        }
    }

    /// A 128-entry redirection table, as NICs have, alternating over two queues.
    static let alternating: [UInt16] = (0..<128).map { UInt16($0 % 2) }

    /// The queue a NIC with `table` and the symmetric key puts the reply to `tuple` on.
    static func replyQueue(_ tuple: FourTuple, _ table: [UInt16]) -> Int {
        let toeplitz = ToeplitzHash(key: ToeplitzHash.symmetricKey)
        let hash = toeplitz.hash(source: tuple.remoteAddress.v4, destination: tuple.localAddress.v4,
                                 sourcePort: tuple.remotePort, destinationPort: tuple.localPort)
        return Int(table[Int(hash % UInt32(table.count))])
    }

    /// The local ports of `count` connections opened to the server's `port`.
    static func openedTuples(_ engine: inout Engine<VirtualPort>, count: Int, port: UInt16 = 80) throws -> [FourTuple] {
        try (0..<count).map { _ in
            let id = try engine.connect(to: server, port: port, now: .zero)
            let tuple = engine.endpoints(of: id)
            return try #require(tuple)
        }
    }

    /// The error a call throws, nil when it succeeds.
    static func failure(_ call: () throws(SocketError) -> ConnectionID) -> SocketError? {
        do {
            _ = try call()
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [0, 1])
    func everyPortChosenOnAnRSSPortRepliesToItsCore(core: Int) throws {
        let link = VirtualLink(seed: 14)
        var engine = Self.client(link, core: core, spreading: .receiveSideScaling(redirectionTable: Self.alternating))
        let tuples = try Self.openedTuples(&engine, count: 300)
        #expect(tuples.allSatisfy { Self.replyQueue($0, Self.alternating) == core })
        #expect(Set(tuples.map(\.localPort)).count == 300, "no tuple twice")
        #expect(engine.tcpStatistics.activeOpens == 300)
        engine.releaseAll()
    }

    /// A proxy cycling through many upstreams: more destinations than the
    /// 16 per-destination port maps connect once kept, each visited in turn
    /// three times, and every chosen port still replies to the opening core.
    @Test func portsToManyDestinationsInTurnReplyToTheirCore() throws {
        let link = VirtualLink(seed: 14)
        var engine = Self.client(link, core: 1, spreading: .receiveSideScaling(redirectionTable: Self.alternating))
        var tuples: [FourTuple] = []
        for _ in 0..<3 {
            for port in UInt16(8000)..<8040 { tuples += try Self.openedTuples(&engine, count: 1, port: port) }
        }
        #expect(Set(tuples.map(\.remotePort)).count == 40)
        #expect(tuples.allSatisfy { Self.replyQueue($0, Self.alternating) == 1 })
        #expect(Set(tuples).count == 120, "no tuple twice")
        engine.releaseAll()
    }

    /// Where the spreading is unpredictable the owner is the symmetric hash
    /// modulo the cores, which is what the forwarding between cores follows.
    @Test func portsChosenWhereSpreadingIsUnpredictableAreTheCoresByHash() throws {
        let link = VirtualLink(seed: 14)
        var engine = Self.client(link, core: 1, spreading: .unpredictable(cores: 3))
        let tuples = try Self.openedTuples(&engine, count: 300)
        #expect(tuples.allSatisfy { Self.replyQueue($0, [0, 1, 2]) == 1 })
        engine.releaseAll()
    }

    /// Paired queues (memif) return every flow to its sender: ports follow RFC
    /// 6056 alone, each connection to one destination on the next port.
    @Test func pairedQueuesTakeSuccessivePorts() throws {
        let link = VirtualLink(seed: 14)
        var engine = Self.client(link, core: 1, spreading: .paired)
        let ports = try Self.openedTuples(&engine, count: 3).map { Int($0.localPort) }
        #expect(ports[1] - ports[0] == 1 || ports[1] == 49152)
        #expect(ports[2] - ports[1] == 1 || ports[2] == 49152)
        engine.releaseAll()
    }

    /// A core that owns no port towards a destination refuses to connect there,
    /// counted, sending nothing: a SYN from it would start a flow whose replies
    /// reach another core.
    @Test func aCoreOwningNoPortRefusesWithAddressNotAvailable() {
        let link = VirtualLink(seed: 14)
        var engine = Self.client(link, core: 1, spreading: .receiveSideScaling(redirectionTable: [0, 0, 0, 0]))
        #expect(Self.failure { () throws(SocketError) in try engine.connect(to: Self.server, port: 80, now: .zero) } == .addressNotAvailable)
        #expect(engine.tcpStatistics.localPortsExhausted == 1)
        #expect(engine.tcpStatistics.activeOpens == 0)
        #expect(engine.connectionCount == 0)
        engine.flush(now: .zero)
        #expect(engine.statistics.transmittedFrames == 0)
        engine.releaseAll()
    }

    /// A local port asked for by the application is refused when another core would receive its replies.
    @Test func aRequestedPortAnotherCoreReceivesIsRefused() throws {
        let link = VirtualLink(seed: 14)
        var engine = Self.client(link, core: 0, spreading: .receiveSideScaling(redirectionTable: Self.alternating))
        let ports = (UInt16(40000)..<40100).map {
            FourTuple(localAddress: EngineNetworkTests.ipA, localPort: $0, remoteAddress: Self.server, remotePort: 80)
        }
        let theirs = try #require(ports.first { Self.replyQueue($0, Self.alternating) == 1 })
        let ours = try #require(ports.first { Self.replyQueue($0, Self.alternating) == 0 })
        #expect(Self.failure { () throws(SocketError) in try engine.connect(to: Self.server, port: 80, localPort: theirs.localPort, now: .zero) }
            == .addressNotAvailable)
        let id = try engine.connect(to: Self.server, port: 80, localPort: ours.localPort, now: .zero)
        let opened = engine.endpoints(of: id)
        #expect(opened == ours)
        #expect(engine.tcpStatistics.localPortsExhausted == 1)
        engine.releaseAll()
    }

    /// The choice stays keyed: engines with different secrets start their runs
    /// towards the same destinations at different ports.
    @Test func theChoiceStaysKeyedBySecret() throws {
        let link = VirtualLink(seed: 14)
        let spreading = FlowSpreading.receiveSideScaling(redirectionTable: Self.alternating)
        var first = Self.client(link, core: 0, spreading: spreading, secret: SipHash(key0: 1, key1: 2))
        var second = Self.client(link, core: 0, spreading: spreading, secret: SipHash(key0: 3, key1: 4))
        var differing = 0
        for port in UInt16(80)..<88 {
            let a = try Self.openedTuples(&first, count: 1, port: port)[0].localPort
            let b = try Self.openedTuples(&second, count: 1, port: port)[0].localPort
            if a != b { differing += 1 }
        }
        #expect(differing >= 7, "eight destinations, each port one of ~8192: at most a coincidence alike")
        first.releaseAll()
        second.releaseAll()
    }
}
