import Testing
@testable import MTCP

/// A burst of connections larger than the listener's backlog, against an
/// application that accepts on every iteration: the connections the accept
/// queue cannot take yet (handshakes completed in SYN-RECEIVED, or by a SYN
/// cookie) have their final ACK ignored, as Linux does by default, and complete
/// when the client sends again; none is reset. (Before, each was reset: with
/// 10,000 connections opened at once, hundreds of the load generator's
/// connections were.)
@Suite struct AcceptBacklogTests {
    @Test func aBurstBeyondTheBacklogCompletesWithoutResets() throws {
        var network = SocketTestNetwork()
        let listener = try network.server.socket()
        try network.server.bind(listener, port: 80)
        try network.server.listen(listener, backlog: 8)
        let clients = try (0..<24).map { _ in try network.connect() }
        let request = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        var requested = Set<Int>()
        var accepted: [Socket] = []
        // 5 s in steps of 1 ms: a request whose ACK found the queue full is sent
        // again at the client's retransmission timeouts (0.2 s, then doubling),
        // 8 of those arriving together admitted each time.
        for _ in 0..<5000 where accepted.count < clients.count {
            network.step()
            while let socket = try? network.server.accept(listener) { accepted.append(socket) }
            for (index, client) in clients.enumerated()
            where !requested.contains(index) && network.client.state(of: client) == .established {
                _ = try network.client.send(client, request)
                requested.insert(index)
            }
        }
        network.settle()
        #expect(accepted.count == 24)
        let requests = accepted.filter { network.server.drain($0).bytes == request }.count
        #expect(requests == 24, "every request arrived once, whole")
        let server = network.server.engine.tcpStatistics, client = network.client.engine.tcpStatistics
        #expect(server.synCookiesSent > 0 && server.acceptQueueOverflows > 0, "the burst did overflow both queues")
        #expect(server.resetsSent == 0 && client.resetsReceived == 0)
    }

    /// A SYN that finds the accept queue full is dropped, as Linux does, not
    /// answered: no handshake completes that no timer of ours would end. Its
    /// retransmission, once the application has accepted, gets through.
    @Test func aSYNAgainstAFullAcceptQueueIsDroppedUntilThereIsRoom() throws {
        var network = SocketTestNetwork()
        let listener = try network.server.socket()
        try network.server.bind(listener, port: 80)
        try network.server.listen(listener, backlog: 1)
        let first = try network.connect()
        network.settle()
        #expect(network.client.state(of: first) == .established)
        let second = try network.connect()
        network.settle()
        #expect(network.client.state(of: second) == .synSent, "no SYN-ACK while the queue is full")
        #expect(network.server.engine.tcpStatistics.acceptQueueOverflows >= 1)
        _ = try network.server.accept(listener)
        for _ in 0..<1100 where network.client.state(of: second) != .established { network.step() }
        #expect(network.client.state(of: second) == .established, "the SYN sent again at 1 s got through")
        network.settle()  // the handshake's last ACK reaches the server
        let accepted = try network.server.accept(listener)
        #expect(network.server.state(of: accepted) == .established)
    }
}
