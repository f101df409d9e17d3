import Testing
@testable import MTCP

/// Whole connections between two stacks on the virtual link: every byte must
/// arrive exactly once and in order, and every connection must end and give its
/// resources back, whatever the link does.
@Suite struct TCPTransferTests {
    /// Runs `exchanges` against the echo service until all complete or `limit` passes.
    static func run(_ network: inout TCPTestNetwork, _ exchanges: [EchoExchange], concurrency: Int,
                    limit: TimeSpan = .seconds(600)) {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
        defer { scratch.deallocate() }
        var started = 0
        let deadline = network.link.now + limit
        while network.link.now < deadline {
            let finished = exchanges.allSatisfy(\.closed)
            if finished && network.server.engine.connectionCount == 0 && network.client.connectionCount == 0 { break }
            network.round { engine, now in
                let open = exchanges[0..<started].lazy.filter { !$0.closed }.count
                for _ in open..<max(open, concurrency) where started < exchanges.count {
                    exchanges[started].id = try? engine.connect(to: TCPTestNetwork.serverIP, port: 7, now: now)
                    started += 1
                }
                while let (id, _) = engine.nextEvent() {
                    exchanges.first { $0.id == id }?.drive(&engine, now: now, scratch: scratch)
                }
                for exchange in exchanges[0..<started] where !exchange.closed {
                    exchange.drive(&engine, now: now, scratch: scratch)
                }
            }
        }
    }

    static func expectDelivered(_ exchanges: [EchoExchange], _ network: borrowing TCPTestNetwork,
                                _ context: String) {
        for (index, exchange) in exchanges.enumerated() {
            #expect(exchange.error == nil, "\(context): exchange \(index) failed: \(String(describing: exchange.error))")
            #expect(exchange.received.count == exchange.payload.count,
                    "\(context): exchange \(index) got \(exchange.received.count) of \(exchange.payload.count) bytes")
            #expect(exchange.received == exchange.payload, "\(context): exchange \(index) bytes differ")
            #expect(exchange.sawEndOfStream, "\(context): exchange \(index) saw no end of stream")
        }
        #expect(network.server.engine.connectionCount == 0, "\(context): server connections left")
        #expect(network.client.connectionCount == 0, "\(context): client connections left")
    }

    @Test func echoOfASmallMessage() {
        var network = TCPTestNetwork()
        let exchange = EchoExchange(payload: Array("hello, stack".utf8))
        Self.run(&network, [exchange], concurrency: 1)
        Self.expectDelivered([exchange], network, "small")
        #expect(network.client.tcpStatistics.established == 1)
        #expect(network.server.engine.tcpStatistics.passiveOpens == 1)
        #expect(network.client.tcpStatistics.retransmittedSegments == 0)
    }

    @Test(arguments: [1, 1460, 1461, 100_000, 1 << 20])
    func bulkEchoOnACleanLink(size: Int) {
        var network = TCPTestNetwork(server: TCPTestNetwork.smallTCP(receiveBufferSize: 65536, sendBufferSize: 65536),
                                     client: TCPTestNetwork.smallTCP(receiveBufferSize: 65536, sendBufferSize: 65536))
        let exchange = EchoExchange(payload: seededBytes(size, seed: UInt64(size)))
        Self.run(&network, [exchange], concurrency: 1)
        Self.expectDelivered([exchange], network, "\(size) bytes")
        #expect(network.client.tcpStatistics.retransmittedSegments == 0)
        #expect(network.link.counters.oversize == 0, "no frame beyond the 1500-byte MTU")
    }

    @Test func eightMegabytesToDiscard() {
        var network = TCPTestNetwork(server: TCPTestNetwork.smallTCP(receiveBufferSize: 256 * 1024),
                                     client: TCPTestNetwork.smallTCP(sendBufferSize: 256 * 1024))
        let payload = seededBytes(8 << 20, seed: 8)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { scratch.deallocate() }
        var id: ConnectionID?
        var written = 0
        var finished = false
        for _ in 0..<2_000_000 where !finished {
            network.round(tick: .microseconds(100)) { engine, now in
                if id == nil { id = try? engine.connect(to: TCPTestNetwork.serverIP, port: 9, now: now) }
                while let _ = engine.nextEvent() {}
                guard let connection = id else { return }
                if written < payload.count, let count = payload.withUnsafeBytes({
                    try? engine.write(connection, UnsafeRawBufferPointer(rebasing: $0[written...]))
                }) {
                    written += count
                    if written == payload.count { try? engine.shutdownWrite(connection) }
                }
                if written == payload.count, (try? engine.read(connection, into: scratch, now: now)) == 0 {
                    engine.close(connection, now: now)
                    finished = true
                }
            }
        }
        #expect(finished)
        #expect(written == payload.count)
        #expect(network.client.tcpStatistics.retransmittedSegments == 0)
    }

    /// The sweep of the issue: loss up to 20%, reordering, duplication and corruption.
    @Test(arguments: [
        VirtualLink.Impairments(loss: 0.01),
        VirtualLink.Impairments(loss: 0.05),
        VirtualLink.Impairments(loss: 0.10),
        VirtualLink.Impairments(loss: 0.20),
        VirtualLink.Impairments(reordering: 0.2, reorderDelay: .milliseconds(3)),
        VirtualLink.Impairments(duplication: 0.2),
        VirtualLink.Impairments(corruption: 0.05),
        VirtualLink.Impairments(loss: 0.05, duplication: 0.05, reordering: 0.1, corruption: 0.02,
                                delay: .milliseconds(2)),
    ])
    func echoUnderImpairments(impairments: VirtualLink.Impairments) {
        // At 20% loss the retransmission back-off leaves a side silent for more than
        // mTCP's 30-s idle timeout, which would then (correctly) reset it: off here.
        let tcp = TCPTestNetwork.smallTCP(idleTimeout: nil)
        var network = TCPTestNetwork(seed: 42, impairments: impairments, server: tcp, client: tcp)
        let sizes = [0, 1, 100, 1460, 5000, 20_000, 64_000, 200_000]
        let exchanges = sizes.enumerated().map { EchoExchange(payload: seededBytes($1, seed: UInt64($0))) }
        Self.run(&network, exchanges, concurrency: sizes.count)
        Self.expectDelivered(exchanges, network, "\(impairments)")
        #expect(network.link.counters.sent > 0)
    }

    @Test func thousandsOfShortConnections() {
        var network = TCPTestNetwork(seed: 3, impairments: .init(loss: 0.01))
        let exchanges = (0..<3000).map { EchoExchange(payload: seededBytes(1 + $0 % 700, seed: UInt64($0))) }
        Self.run(&network, exchanges, concurrency: 200)
        Self.expectDelivered(exchanges, network, "short flows")
        #expect(network.server.engine.tcpStatistics.passiveOpens == 3000)
        #expect(network.server.engine.tcpStatistics.closed + network.server.engine.tcpStatistics.resetsReceived >= 3000)
    }
}
