import Testing
@testable import MTCP

/// TCP over IPv6 through the socket API on the virtual link: the handshake
/// (neighbours found by Neighbor Discovery), a transfer both ways, and the
/// addresses the API reports.
@Suite struct IPv6SocketTests {
    @Test func aConnectionOverIPv6CarriesDataBothWays() throws {
        var network = SocketTestNetwork(ipv6: true)
        let listener = try network.listen()
        let client = try network.client.socket()
        try network.client.connect(client, to: IPAddress(SocketTestNetwork.serverIPv6), port: 80)
        network.settle(10)
        let server = try network.server.accept(listener)
        #expect(try network.server.peerAddress(of: server).address == IPAddress(SocketTestNetwork.clientIPv6))
        #expect(try network.server.localAddress(of: server).address == IPAddress(SocketTestNetwork.serverIPv6))
        #expect(try network.client.peerAddress(of: client).description == "[2001:2::1]:80")

        let request = [UInt8]((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var sent = 0
        var received: [UInt8] = []
        for _ in 0..<200 where received.count < request.count {
            if sent < request.count {
                sent += (try? network.client.send(client, Array(request[sent...]))) ?? 0
            }
            network.step()
            received += network.server.drain(server).bytes
        }
        #expect(received == request)
        _ = try network.server.send(server, Array("pong".utf8))
        network.settle()
        #expect(network.client.drain(client).bytes == Array("pong".utf8))

        #expect(network.server.engine.statistics.drops.total == 0)
        #expect(network.client.engine.statistics.drops.total == 0)
        #expect(network.client.engine.statistics.neighborSolicitationsSent == 1)
    }

    @Test func ipv4AndIPv6ConnectionsShareAListener() throws {
        var network = SocketTestNetwork(ipv6: true)
        let listener = try network.listen()
        let overIPv4 = try network.connect()
        let overIPv6 = try network.client.socket()
        try network.client.connect(overIPv6, to: IPAddress(SocketTestNetwork.serverIPv6), port: 80)
        network.settle(10)
        let first = try network.server.accept(listener)
        let second = try network.server.accept(listener)
        let peers = Set([try network.server.peerAddress(of: first).address.isIPv4,
                         try network.server.peerAddress(of: second).address.isIPv4])
        #expect(peers == [true, false])
        #expect(network.server.engine.tcp.flows.count == 1 && network.server.engine.tcp.flows6.count == 1)
        _ = overIPv4
    }
}
