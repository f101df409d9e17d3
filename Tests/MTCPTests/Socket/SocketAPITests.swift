import Glibc
import Testing
@testable import MTCP

/// The socket and event API of `SocketContext`, call by call: the success path
/// and every error a BSD program would check for, between two socket contexts on
/// the virtual link (`SocketTestNetwork`).
@Suite struct SocketAPITests {
    static let serverIP = SocketTestNetwork.serverIP
    static let clientIP = SocketTestNetwork.clientIP

    // MARK: - socket, bind, listen, accept

    @Test func socketTableFillsUpAndSlotsComeBackWithANewGeneration() throws {
        var net = SocketTestNetwork(serverSockets: 4)
        #expect(net.server.socketCapacity == 4)
        var sockets: [Socket] = []
        for _ in 0..<4 { sockets.append(try net.server.socket()) }
        #expect(Set(sockets).count == 4)
        #expect(net.server.socketCount == 4)
        #expect(failure { try net.server.socket() } == .noResources)

        try net.server.close(sockets[2])
        #expect(net.server.socketCount == 3)
        let reused = try net.server.socket()
        #expect(reused.index == sockets[2].index, "the freed slot is the one handed out")
        #expect(reused.generation == sockets[2].generation &+ 1)
        #expect(reused != sockets[2])
        // The old handle does not reach the new socket.
        #expect(failure { try net.server.bind(sockets[2], port: 80) } == .invalidHandle)
        #expect(failure { try net.server.close(sockets[2]) } == .invalidHandle)
        try net.server.bind(reused, port: 80)
        #expect(try net.server.localAddress(of: reused).port == 80)
        // A handle survives the trip through an event's data word.
        #expect(Socket(rawValue: reused.rawValue) == reused)
        #expect(net.server.socketCount == 4)
        #expect(failure { try net.server.socket() } == .noResources)
    }

    @Test func defaultSocketCapacityLeavesRoomBeyondTheConnections() {
        let net = SocketTestNetwork()
        #expect(net.server.socketCapacity == 32 + 64)
        #expect(net.server.socketCount == 0)
    }

    @Test func bindErrors() throws {
        var net = SocketTestNetwork()
        let first = try net.server.socket()
        try net.server.bind(first, port: 80)
        #expect(failure { try net.server.bind(first, port: 81) } == .invalidArgument, "bound twice")
        #expect(failure { try net.server.bind(first, port: 80) } == .invalidArgument, "bound twice, same port")
        try net.server.listen(first)
        #expect(failure { try net.server.bind(first, port: 82) } == .invalidArgument, "a listener")

        let second = try net.server.socket()
        #expect(failure { try net.server.bind(second, port: 80) } == .addressInUse, "a listener has the port")
        // The failed bind left it unbound: another port still works.
        try net.server.bind(second, port: 8080)
        #expect(try net.server.localAddress(of: second) == SocketAddress(address: Self.serverIP, port: 8080))

        // Two sockets bound to one port, neither listening: the second listen loses.
        let third = try net.server.socket()
        try net.server.bind(third, port: 8080)
        try net.server.listen(second)
        #expect(failure { try net.server.listen(third) } == .addressInUse)
    }

    @Test func listenErrors() throws {
        var net = SocketTestNetwork()
        let unbound = try net.server.socket()
        #expect(failure { try net.server.listen(unbound) } == .invalidArgument, "not bound")
        let portZero = try net.server.socket()
        try net.server.bind(portZero, port: 0)
        #expect(failure { try net.server.listen(portZero) } == .invalidArgument, "bound to port 0")
        let bound = try net.server.socket()
        try net.server.bind(bound, port: 80)
        #expect(failure { try net.server.listen(bound, backlog: 0) } == .invalidArgument, "backlog 0")
        try net.server.listen(bound, backlog: 1)
        #expect(failure { try net.server.listen(bound) } == .invalidArgument, "listening already")
        let (_, _, connected) = try net.establish(port: 81)
        #expect(failure { try net.client.listen(connected) } == .invalidArgument, "connected")
    }

    @Test func acceptErrorsAndSuccess() throws {
        var net = SocketTestNetwork()
        let unconnected = try net.server.socket()
        #expect(failure { try net.server.accept(unconnected) } == .invalidArgument, "not a listener")
        let listener = try net.listen()
        #expect(failure { try net.server.accept(listener) } == .wouldBlock, "nobody waiting")

        let client = try net.connect()
        net.settle()
        let before = net.server.socketCount
        let accepted = try net.server.accept(listener)
        #expect(net.server.socketCount == before + 1)
        #expect(net.server.state(of: accepted) == .established)
        #expect(failure { try net.server.accept(listener) } == .wouldBlock, "the queue is empty again")
        #expect(failure { try net.server.accept(accepted) } == .invalidArgument, "a connection")
        #expect(try net.server.peerAddress(of: accepted) == net.client.localAddress(of: client))
    }

    @Test func acceptWithAFullSocketTableKeepsTheConnectionQueued() throws {
        var net = SocketTestNetwork(serverSockets: 2)
        let listener = try net.listen()
        let filler = try net.server.socket()
        _ = try net.connect()
        net.settle()
        #expect(failure { try net.server.accept(listener) } == .noResources)
        try net.server.close(filler)
        let accepted = try net.server.accept(listener)
        #expect(net.server.state(of: accepted) == .established)
    }

    @Test func acceptSkipsAConnectionResetWhileItWaited() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, listener, events: .input, data: 1)
        let doomed = try net.connect()
        net.settle()
        try net.client.abort(doomed)
        net.settle()
        #expect(net.server.engine.connectionCount == 0, "the reset connection is gone")
        let count = net.server.socketCount
        #expect(failure { try net.server.accept(listener) } == .wouldBlock)
        #expect(net.server.socketCount == count, "no socket leaked by the attempt")
        #expect(net.server.ready(poll).isEmpty, "nothing to accept any more")
        let survivor = try net.connect()
        net.settle()
        #expect(net.server.ready(poll).map(\.data) == [1])
        let accepted = try net.server.accept(listener)
        #expect(try net.server.peerAddress(of: accepted) == net.client.localAddress(of: survivor))
    }

    @Test func halfOpenConnectionOfAClosedListenerDoesNotReachANewListener() throws {
        // The listener is closed while a connection is in SYN-RECEIVED; a new
        // listener on another port takes the freed slot of the listener table.
        // The handshake's last ACK must not put the port-80 connection in the
        // new listener's accept queue: it is refused instead.
        var net = SocketTestNetwork()
        let old = try net.listen(port: 80)
        let client = try net.connect(port: 80)
        net.step()  // SYN out
        net.step()  // SYN-ACK back, ACK out
        #expect(net.client.state(of: client) == .established)
        try net.server.close(old)
        let new = try net.listen(port: 81)
        net.settle()
        #expect(failure { try net.server.accept(new) } == .wouldBlock)
        #expect(try net.client.pendingError(of: client) == .connectionReset)
        #expect(net.server.engine.connectionCount == 0)
        // The new listener works, and its SYN queue was not disturbed.
        let other = try net.connect(port: 81)
        net.settle()
        let accepted = try net.server.accept(new)
        #expect(try net.server.peerAddress(of: accepted) == net.client.localAddress(of: other))
        #expect(net.server.engine.tcp.listeners[0].halfOpen == 0)
    }

    // MARK: - connect, addresses

    @Test func connectCompletesWithOutputAndBothEndsKnowTheirAddresses() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        let poll = try net.client.createEventPoll()
        let socket = try net.client.socket()
        // Unconnected, a socket has the stack's address and port 0, and no peer.
        #expect(try net.client.localAddress(of: socket) == SocketAddress(address: Self.clientIP, port: 0))
        #expect(failure { try net.client.peerAddress(of: socket) } == .notConnected)
        #expect(try net.client.pendingError(of: socket) == nil)
        #expect(net.client.state(of: socket) == nil)

        try net.client.connect(socket, to: Self.serverIP, port: 80)
        try net.client.control(poll, .add, socket, events: .output, data: 42)
        #expect(net.client.state(of: socket) == .synSent)
        #expect(net.client.ready(poll).isEmpty, "SYN-SENT: not writable yet")
        net.settle()
        #expect(net.client.state(of: socket) == .established)
        #expect(net.client.ready(poll) == [EventPollEvent(events: .output, data: 42)])

        let local = try net.client.localAddress(of: socket)
        #expect(local.address == IPAddress(Self.clientIP))
        #expect((49152...65535).contains(local.port), "ephemeral port \(local.port)")
        #expect(try net.client.peerAddress(of: socket) == SocketAddress(address: Self.serverIP, port: 80))

        let accepted = try net.server.accept(listener)
        #expect(try net.server.localAddress(of: accepted) == SocketAddress(address: Self.serverIP, port: 80))
        #expect(try net.server.peerAddress(of: accepted) == local)
        #expect(try net.server.localAddress(of: listener) == SocketAddress(address: Self.serverIP, port: 80))
        #expect(failure { try net.server.peerAddress(of: listener) } == .notConnected)
    }

    @Test func connectFromABoundPort() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        let socket = try net.client.socket()
        try net.client.bind(socket, port: 5555)
        try net.client.connect(socket, to: Self.serverIP, port: 80)
        #expect(try net.client.localAddress(of: socket).port == 5555)
        net.settle()
        let accepted = try net.server.accept(listener)
        #expect(try net.server.peerAddress(of: accepted) == SocketAddress(address: Self.clientIP, port: 5555))
        // The same 4-tuple again is in use.
        let again = try net.client.socket()
        try net.client.bind(again, port: 5555)
        #expect(failure { try net.client.connect(again, to: Self.serverIP, port: 80) } == .addressInUse)
    }

    @Test func writeAndShutdownRightAfterConnectWaitForTheHandshake() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        let client = try net.connect()
        #expect(net.client.state(of: client) == .synSent)
        #expect(try net.client.send(client, Array("early".utf8)) == 5, "buffered until established")
        try net.client.shutdown(client, .write)
        #expect(failure { try net.client.send(client, [1]) } == .closedForWriting)
        net.settle()
        let server = try net.server.accept(listener)
        #expect(net.server.drain(server) == (Array("early".utf8), true, nil))
    }

    @Test func connectErrors() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        let socket = try net.connect()
        #expect(failure { try net.client.connect(socket, to: Self.serverIP, port: 80) } == .alreadyConnected,
                "in SYN-SENT")
        net.settle()
        #expect(failure { try net.client.connect(socket, to: Self.serverIP, port: 80) } == .alreadyConnected,
                "established")
        #expect(failure { try net.server.connect(listener, to: Self.clientIP, port: 80) } == .invalidArgument,
                "a listener")
        let fresh = try net.client.socket()
        #expect(failure { try net.client.connect(fresh, to: Self.serverIP, port: 0) } == .invalidArgument)
        #expect(failure { try net.client.connect(fresh, to: IPv4Address(255, 255, 255, 255), port: 80) }
                == .invalidArgument)
        // The failed calls left it unconnected and usable.
        try net.client.connect(fresh, to: Self.serverIP, port: 80)
        net.settle()
        #expect(net.client.state(of: fresh) == .established)
    }

    @Test func connectToAClosedPortIsRefused() throws {
        var net = SocketTestNetwork()
        let poll = try net.client.createEventPoll()
        let socket = try net.connect(port: 81)
        // Interest in nothing: ERR and HUP are reported anyway.
        try net.client.control(poll, .add, socket, events: [], data: 7)
        net.settle()
        #expect(net.client.ready(poll) == [EventPollEvent(events: [.error, .hangUp], data: 7)])
        #expect(try net.client.pendingError(of: socket) == .connectionRefused)
        #expect(net.client.state(of: socket) == .closed)
        #expect(failure { try net.client.receive(socket) } == .connectionRefused)
        #expect(failure { try net.client.send(socket, [1]) } == .connectionRefused)
        #expect(net.server.engine.tcpStatistics.resetsSent == 1)
        // The socket is still the application's until it closes it.
        let count = net.client.socketCount
        try net.client.close(socket)
        #expect(net.client.socketCount == count - 1)
        #expect(net.client.engine.connectionCount == 0)
    }

    // MARK: - read, write, writev

    @Test func readAndWriteCarryBytesBothWays() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        #expect(failure { try net.server.receive(server) } == .wouldBlock, "nothing arrived yet")
        #expect(try net.client.send(client, Array("hello".utf8)) == 5)
        net.settle()
        #expect(net.server.readableBytes(server) == 5)
        #expect(try net.server.receive(server, limit: 3) == Array("hel".utf8))
        #expect(net.server.readableBytes(server) == 2)
        #expect(try net.server.receive(server) == Array("lo".utf8))
        #expect(failure { try net.server.receive(server) } == .wouldBlock)
        #expect(try net.server.send(server, Array("world".utf8)) == 5)
        #expect(try net.server.send(server, []) == 0, "an empty write is not an error")
        net.settle()
        #expect(net.client.drain(client).bytes == Array("world".utf8))
    }

    @Test func readAndWriteNeedAConnection() throws {
        var net = SocketTestNetwork()
        let unconnected = try net.server.socket()
        let listener = try net.listen()
        let buffers = [UnsafeRawBufferPointer(start: nil, count: 0)]
        for (socket, expected) in [(unconnected, SocketError.notConnected), (listener, .invalidArgument)] {
            #expect(failure { try net.server.receive(socket) } == expected)
            #expect(failure { try net.server.send(socket, [1, 2, 3]) } == expected)
            #expect(failure {
                try buffers.withUnsafeBufferPointer { try net.server.writev(socket, $0) }
            } == expected, "nothing to gather, still no connection")
            #expect(failure { try net.server.shutdown(socket, .write) } == expected)
            #expect(net.server.readableBytes(socket) == 0)
            #expect(net.server.writableBytes(socket) == 0)
            #expect(net.server.state(of: socket) == nil)
            #expect(try net.server.pendingError(of: socket) == nil)
        }
        let data: [UInt8] = [1, 2, 3]
        data.withUnsafeBytes { bytes in
            let list = [bytes]
            list.withUnsafeBufferPointer { buffers in
                #expect(failure { try net.server.writev(unconnected, buffers) } == .notConnected)
                #expect(failure { try net.server.writev(listener, buffers) } == .invalidArgument)
            }
        }
    }

    @Test func staleHandleAfterCloseIsInvalidEverywhere() throws {
        var net = SocketTestNetwork()
        let (listener, server, client) = try net.establish()
        let poll = try net.server.createEventPoll()
        try net.server.close(server)
        #expect(failure { try net.server.receive(server) } == .invalidHandle)
        #expect(failure { try net.server.send(server, [1]) } == .invalidHandle)
        #expect(failure { try net.server.shutdown(server, .both) } == .invalidHandle)
        #expect(failure { try net.server.close(server) } == .invalidHandle)
        #expect(failure { try net.server.abort(server) } == .invalidHandle)
        #expect(failure { try net.server.options(of: server) } == .invalidHandle)
        #expect(failure { try net.server.localAddress(of: server) } == .invalidHandle)
        #expect(failure { try net.server.peerAddress(of: server) } == .invalidHandle)
        #expect(failure { try net.server.pendingError(of: server) } == .invalidHandle)
        #expect(failure { try net.server.control(poll, .add, server, events: .input) } == .invalidHandle)
        #expect(failure { try net.server.connect(server, to: Self.clientIP, port: 1) } == .invalidHandle)
        let nothing = [UnsafeRawBufferPointer]()
        #expect(failure { try nothing.withUnsafeBufferPointer { try net.server.writev(server, $0) } } == .invalidHandle)
        #expect(net.server.state(of: server) == nil)
        #expect(net.server.writableBytes(server) == 0)
        // A closed listener too.
        try net.server.close(listener)
        #expect(failure { try net.server.accept(listener) } == .invalidHandle)
        #expect(failure { try net.server.listen(listener) } == .invalidHandle)
        // A handle that never existed.
        #expect(failure { try net.server.receive(Socket(index: 10_000, generation: 0)) } == .invalidHandle)
        #expect(failure { try net.server.receive(Socket(index: -1, generation: 0)) } == .invalidHandle)
        net.settle()
        #expect(net.client.drain(client).end, "closed without unread data: the peer sees a FIN")
    }

    @Test func smallSendBufferGivesBackpressureAndOutputWhenThePeerTakesTheData() throws {
        // The server's window (4 KB) is smaller than what the client may buffer,
        // so the client blocks on acknowledgements first, then on the window.
        var net = SocketTestNetwork(server: SocketTestNetwork.tcp(receiveBufferSize: 4096))
        let listener = try net.listen()
        let client = try net.client.socket()
        var options = try net.client.options(of: client)
        options.sendBufferSize = 1000
        try net.client.setOptions(client, options)
        try net.client.connect(client, to: Self.serverIP, port: 80)
        let poll = try net.client.createEventPoll()
        try net.client.control(poll, .add, client, events: [.output, .edgeTriggered], data: 1)
        net.settle()
        #expect(net.client.ready(poll) == [EventPollEvent(events: .output, data: 1)])
        let server = try net.server.accept(listener)

        let payload = seededBytes(12_000, seed: 3)
        var written = try net.client.send(client, Array(payload[0..<3000]))
        #expect(written == 1000, "SO_SNDBUF caps what is accepted")
        #expect(net.client.writableBytes(client) == 0)
        #expect(failure { try net.client.send(client, Array(payload[written...])) } == .wouldBlock)
        #expect(net.client.ready(poll).isEmpty)
        net.settle()
        // The server acknowledged (without reading): room again, reported once.
        #expect(net.client.writableBytes(client) == 1000)
        #expect(net.client.ready(poll) == [EventPollEvent(events: .output, data: 1)])
        #expect(net.client.ready(poll).isEmpty, "edge-triggered")

        // Fill the server's window: then acknowledgements stop freeing room.
        for _ in 0..<20 {
            guard let count = try? net.client.send(client, Array(payload[written...])) else { break }
            written += count
            net.settle()
        }
        #expect(failure { try net.client.send(client, Array(payload[written...])) } == .wouldBlock)
        // The window is (nearly: sender silly-window avoidance keeps a runt of
        // it unused) full, and SO_SNDBUF's worth waits behind it.
        let buffered = net.server.readableBytes(server)
        #expect(buffered > 4096 - 1460 && buffered <= 4096, "\(buffered) bytes in the server's buffer")
        #expect(written == buffered + 1000)
        _ = net.client.ready(poll)
        net.settle()
        #expect(net.client.ready(poll).isEmpty, "nothing changes while the peer does not read")

        // The peer reads: the window opens, the rest goes out, room comes back.
        var received = net.server.drain(server).bytes
        net.settle()
        #expect(net.client.ready(poll).first?.events == .output)
        #expect(net.client.writableBytes(client) == 1000)
        received += net.server.drain(server).bytes
        #expect(received == Array(payload[0..<written]))
    }

    @Test func writevGathersAcrossBuffersAndStopsWhereTheSendBufferEnds() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let parts: [[UInt8]] = [Array(repeating: 0x61, count: 30), [], Array(repeating: 0x62, count: 50),
                                Array(repeating: 0x63, count: 40)]
        func gather(_ context: inout SocketContext<VirtualPort>, _ socket: Socket) throws -> Int {
            let copies = parts.map { part -> UnsafeRawBufferPointer in
                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: part.count, alignment: 1)
                copy.copyBytes(from: part)
                return UnsafeRawBufferPointer(copy)
            }
            defer { copies.forEach { $0.deallocate() } }
            return try copies.withUnsafeBufferPointer { buffers in try context.writev(socket, buffers) }
        }
        // All of it fits: 120 bytes in order, the empty buffer skipped.
        #expect(try gather(&net.client, client) == 120)
        net.settle()
        #expect(net.server.drain(server).bytes == parts.flatMap { $0 })

        // A 100-byte send buffer: the first two whole, then 20 of the third.
        var options = try net.client.options(of: client)
        options.sendBufferSize = 100
        try net.client.setOptions(client, options)
        #expect(try gather(&net.client, client) == 100)
        #expect(failure { try gather(&net.client, client) } == .wouldBlock, "not a byte fits")
        net.settle()
        #expect(net.server.drain(server).bytes == parts.flatMap { $0 }.prefix(100).map { $0 })
        // Room again once acknowledged; an empty list writes nothing.
        #expect(try gather(&net.client, client) == 100)
        let none = [UnsafeRawBufferPointer]()
        #expect(try none.withUnsafeBufferPointer { try net.client.writev(client, $0) } == 0)
    }

    @Test func producedWriteFillsTheSendBufferInPlaceWithinSO_SNDBUF() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        var options = try net.client.options(of: client)
        options.sendBufferSize = 100
        try net.client.setOptions(client, options)
        let payload = seededBytes(150, seed: 5)
        var offset = 0
        func produce(_ first: UnsafeMutableRawBufferPointer, _ second: UnsafeMutableRawBufferPointer) -> Int {
            let count = min(first.count + second.count, payload.count - offset)
            let head = min(count, first.count)
            first.copyBytes(from: payload[offset..<offset + head])
            if count > head { second.copyBytes(from: payload[offset + head..<offset + count]) }
            return count
        }
        // Offered 150, given room for 100 (SO_SNDBUF): what it produced is sent.
        let written = try net.client.write(client, upTo: 150, producingWith: produce)
        #expect(written == 100)
        offset += written
        var called = false
        #expect(failure { try net.client.write(client, upTo: 50) { _, _ in called = true; return 0 } } == .wouldBlock)
        #expect(!called, "no room: the producer is not asked")
        net.settle()
        #expect(try net.client.write(client, upTo: 50, producingWith: produce) == 50)
        net.settle()
        #expect(net.server.drain(server).bytes == payload)
        // Nothing produced (a file that ended early) is a write of 0, not an error.
        #expect(try net.client.write(client, upTo: 10) { _, _ in 0 } == 0)
        try net.client.shutdown(client, .write)
        var calledAfterShutdown = false
        #expect(failure { try net.client.write(client, upTo: 10) { _, _ in calledAfterShutdown = true; return 0 } }
                == .closedForWriting)
        #expect(!calledAfterShutdown)
    }

    @Test func producedWriteReportsTheConnectionsErrorBeforeAFullBuffer() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        var options = try net.client.options(of: client)
        options.sendBufferSize = 100
        try net.client.setOptions(client, options)
        #expect(try net.client.write(client, upTo: 100) { first, _ in first.count } == 100)
        try net.server.abort(server)
        net.settle()
        var called = false
        #expect(failure { try net.client.write(client, upTo: 10) { _, _ in called = true; return 0 } }
                == .connectionReset)
        #expect(!called)
    }

    @Test func referencedWritesAreSentFromTheRegionAndResetOnRequest() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let region = UnsafeMutableRawBufferPointer.allocate(byteCount: 5000, alignment: 1)
        defer { region.deallocate() }
        let payload = seededBytes(5000, seed: 9)
        region.copyBytes(from: payload)
        var options = try net.client.options(of: client)
        options.sendBufferSize = 3000
        try net.client.setOptions(client, options)
        // SO_SNDBUF caps what is taken, as for a copy; the rest goes as room opens.
        var sent = try net.client.writeReference(client, UnsafeRawBufferPointer(region), tag: 1)
        #expect(sent == 3000)
        net.settle()
        sent += try net.client.writeReference(client, UnsafeRawBufferPointer(rebasing: region[sent...]), tag: 1)
        #expect(sent == 5000)
        net.settle()
        #expect(net.server.drain(server).bytes == payload)
        #expect(net.client.resetConnections(referencingTagsBelow: 2) == 0, "all of it acknowledged")

        // Referenced and not yet acknowledged, the socket closed since: a
        // reset for memory tagged below 2, nothing for memory of tag 1 and up.
        _ = try net.client.writeReference(client, UnsafeRawBufferPointer(rebasing: region[0..<100]), tag: 1)
        try net.client.close(client)
        #expect(net.client.resetConnections(referencingTagsBelow: 1) == 0)
        #expect(net.client.resetConnections(referencingTagsBelow: 2) == 1)
        #expect(net.client.resetConnections(referencingTagsBelow: 2) == 0, "reset once")
        net.settle()
        #expect(try net.server.pendingError(of: server) == .connectionReset)
    }

    // MARK: - shutdown, close, abort

    @Test func shutdownWriteGivesThePeerEndOfStreamWhileWeStillRead() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        #expect(try net.client.send(client, Array("ping".utf8)) == 4)
        try net.client.shutdown(client, .write)
        try net.client.shutdown(client, .write)  // again: nothing more happens
        #expect(failure { try net.client.send(client, [1]) } == .closedForWriting)
        net.settle()
        let drained = net.server.drain(server)
        #expect(drained.bytes == Array("ping".utf8))
        #expect(drained.end)
        #expect(try net.server.receive(server) == [], "end of stream stays")
        #expect(net.server.state(of: server) == .closeWait)
        #expect(net.client.state(of: client) == .finWait2)
        // The other direction still works.
        #expect(try net.server.send(server, Array("pong".utf8)) == 4)
        net.settle()
        #expect(net.client.drain(client) == (Array("pong".utf8), false, nil))
        try net.server.close(server)
        net.settle()
        #expect(net.client.drain(client).end)
        #expect(net.server.engine.connectionCount == 0)
    }

    @Test func shutdownReadMakesReadReturnZeroAndDropsWhatArrives() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        #expect(try net.client.send(client, Array("data".utf8)) == 4)
        net.settle()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: [.input, .edgeTriggered], data: 5)
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 5)])
        try net.server.shutdown(server, .read)
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 5)], "the shutdown is an edge")
        #expect(try net.server.receive(server) == [], "end of stream, whatever was buffered")
        #expect(net.server.readableBytes(server) == 0, "dropped")
        // The peer may go on sending: it is not stalled by a full window, the
        // bytes are dropped (20 KB through an 8 KB receive buffer).
        let payload = seededBytes(20_000, seed: 1)
        var written = 0
        for _ in 0..<40 where written < payload.count {
            if let count = try? net.client.send(client, Array(payload[written...])) { written += count }
            net.settle()
        }
        #expect(written == payload.count)
        #expect(net.client.writableBytes(client) == 8192, "all of it acknowledged")
        #expect(try net.server.receive(server) == [])
        // Writing still works.
        #expect(try net.server.send(server, Array("x".utf8)) == 1)
        net.settle()
        #expect(net.client.drain(client).bytes == Array("x".utf8))
        #expect(net.server.state(of: server) == .established)
        // Nothing is left unread, so close is an orderly one.
        try net.server.close(server)
        net.settle()
        #expect(net.client.drain(client).end)
        #expect(net.server.engine.tcpStatistics.resetsSent == 0)
    }

    @Test func shutdownBothClosesBothWays() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        try net.client.shutdown(client, .both)
        #expect(try net.client.receive(client) == [])
        #expect(failure { try net.client.send(client, [1]) } == .closedForWriting)
        net.settle()
        #expect(net.server.drain(server).end)
    }

    @Test func closeWithUnreadDataResetsThePeer() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        #expect(try net.client.send(client, Array("unread".utf8)) == 6)
        net.settle()
        let resets = net.server.engine.tcpStatistics.resetsSent
        try net.server.close(server)
        #expect(net.server.engine.tcpStatistics.resetsSent == resets + 1)
        net.settle()
        #expect(try net.client.pendingError(of: client) == .connectionReset)
        #expect(failure { try net.client.receive(client) } == .connectionReset)
        #expect(failure { try net.client.send(client, [1]) } == .connectionReset)
        #expect(net.server.engine.connectionCount == 0)
    }

    @Test func closeWithEverythingReadEndsGracefully() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        #expect(try net.client.send(client, Array("read".utf8)) == 4)
        #expect(try net.server.send(server, Array("last words".utf8)) == 10)
        net.settle()
        #expect(net.server.drain(server).bytes == Array("read".utf8))
        try net.server.close(server)
        net.settle()
        #expect(net.client.drain(client) == (Array("last words".utf8), true, nil), "data, then FIN")
        #expect(try net.client.pendingError(of: client) == nil)
        #expect(net.server.engine.tcpStatistics.resetsSent == 0)
    }

    @Test func abortSendsAReset() throws {
        var net = SocketTestNetwork()
        let (listener, server, client) = try net.establish()
        let count = net.server.socketCount
        try net.server.abort(server)
        #expect(net.server.socketCount == count - 1)
        #expect(net.server.engine.tcpStatistics.resetsSent == 1)
        #expect(net.server.engine.connectionCount == 0, "no FIN exchange, no TIME-WAIT")
        net.settle()
        #expect(try net.client.pendingError(of: client) == .connectionReset)
        #expect(net.client.state(of: client) == .closed)
        // Abort of something not connected is a close.
        let unconnected = try net.server.socket()
        try net.server.abort(unconnected)
        try net.server.abort(listener)
        #expect(net.server.socketCount == count - 2)
        let late = try net.connect()
        net.settle()
        #expect(try net.client.pendingError(of: late) == .connectionRefused, "the listener is gone")
    }

    // MARK: - options

    @Test func optionsRefuseWhatTheStackCannotDo() throws {
        var net = SocketTestNetwork()
        let socket = try net.client.socket()
        let defaults = try net.client.options(of: socket)
        #expect(defaults == SocketOptions(sendBufferSize: 8192, receiveBufferSize: 8192))
        #expect(defaults.nonBlocking && defaults.noDelay)
        var refused = [SocketOptions](repeating: defaults, count: 6)
        refused[0].nonBlocking = false
        refused[1].noDelay = false
        refused[2].receiveBufferSize = 4096
        refused[3].sendBufferSize = 0
        refused[4].sendBufferSize = 8193
        refused[5].sendBufferSize = -1
        for options in refused {
            #expect(failure { try net.client.setOptions(socket, options) } == .invalidArgument, "\(options)")
            #expect(try net.client.options(of: socket) == defaults, "unchanged after \(options)")
        }
        var smaller = defaults
        smaller.sendBufferSize = 1024
        try net.client.setOptions(socket, smaller)
        #expect(try net.client.options(of: socket) == smaller)
        try net.client.setOptions(socket, defaults)  // back up to the core's size is allowed
        try net.client.setOptions(socket, smaller)
        _ = try net.listen()
        try net.client.connect(socket, to: Self.serverIP, port: 80)
        net.settle()
        #expect(net.client.writableBytes(socket) == 1024)
        #expect(try net.client.send(socket, Array(repeating: 1, count: 5000)) == 1024)
    }

    @Test func acceptedSocketsInheritTheListenersSendBufferSize() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen(sendBufferSize: 2000)
        #expect(try net.server.options(of: listener).sendBufferSize == 2000)
        _ = try net.connect()
        net.settle()
        let accepted = try net.server.accept(listener)
        #expect(try net.server.options(of: accepted).sendBufferSize == 2000)
        #expect(net.server.writableBytes(accepted) == 2000)
        #expect(try net.server.send(accepted, Array(repeating: 2, count: 5000)) == 2000)
        // The client's socket kept the core's size.
        let other = try net.client.socket()
        #expect(try net.client.options(of: other).sendBufferSize == 8192)
    }

    // MARK: - event poll: control, wait

    @Test func eventPollControlErrors() throws {
        var net = SocketTestNetwork()
        let first = try net.server.createEventPoll()
        let second = try net.server.createEventPoll()
        #expect(first != second)
        let socket = try net.server.socket()
        #expect(failure { try net.server.control(first, .modify, socket, events: .input) } == .notRegistered)
        #expect(failure { try net.server.control(first, .delete, socket) } == .notRegistered)
        try net.server.control(first, .add, socket, events: .input)
        #expect(failure { try net.server.control(first, .add, socket, events: .input) } == .alreadyRegistered)
        #expect(failure { try net.server.control(second, .add, socket, events: .input) } == .alreadyRegistered,
                "one poll at a time")
        #expect(failure { try net.server.control(second, .modify, socket, events: .input) } == .notRegistered)
        #expect(failure { try net.server.control(second, .delete, socket) } == .notRegistered)
        try net.server.control(first, .modify, socket, events: .output)
        try net.server.control(first, .delete, socket)
        #expect(failure { try net.server.control(first, .delete, socket) } == .notRegistered)
        try net.server.control(second, .add, socket, events: .input)

        // Bad poll handles.
        for bad in [EventPoll(index: -1), EventPoll(index: 99), EventPoll(index: 5)] {
            #expect(failure { try net.server.control(bad, .add, socket, events: .input) } == .invalidHandle)
            #expect(failure { try net.server.closeEventPoll(bad) } == .invalidHandle)
            #expect(net.server.ready(bad).isEmpty)
        }
        try net.server.closeEventPoll(first)
        #expect(failure { try net.server.closeEventPoll(first) } == .invalidHandle)
        #expect(failure { try net.server.control(first, .add, socket, events: .input) } == .invalidHandle)

        // A handful of polls per core.
        var created = 1  // `second`
        while (try? net.server.createEventPoll()) != nil { created += 1 }
        #expect(created == EventPollTable.capacity)
        #expect(failure { try net.server.createEventPoll() } == .noResources)
    }

    @Test func unconnectedSocketReportsOutputAndHangUp() throws {
        // As Linux reports a TCP socket that is neither connected nor listening.
        var net = SocketTestNetwork()
        let poll = try net.server.createEventPoll()
        let socket = try net.server.socket()
        try net.server.control(poll, .add, socket, events: [.input, .output], data: 3)
        #expect(net.server.ready(poll) == [EventPollEvent(events: [.output, .hangUp], data: 3)])
    }

    @Test func levelTriggeredReportsAgainUntilDrained() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: .input, data: server.rawValue)
        #expect(net.server.ready(poll).isEmpty, "nothing to read yet")
        #expect(try net.client.send(client, Array(0..<10)) == 10)
        net.settle()
        let expected = [EventPollEvent(events: .input, data: server.rawValue)]
        #expect(net.server.ready(poll) == expected)
        #expect(net.server.ready(poll) == expected, "still readable: reported again")
        #expect(try net.server.receive(server, limit: 4) == [0, 1, 2, 3])
        #expect(net.server.ready(poll) == expected, "6 bytes left")
        #expect(try net.server.receive(server) == [4, 5, 6, 7, 8, 9])
        #expect(net.server.ready(poll).isEmpty, "drained")
        #expect(net.server.ready(poll).isEmpty)
        #expect(try net.client.send(client, [10]) == 1)
        net.settle()
        #expect(net.server.ready(poll) == expected)
    }

    @Test func edgeTriggeredReportsOncePerNewData() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: [.input, .edgeTriggered], data: 9)
        #expect(try net.client.send(client, [1, 2, 3]) == 3)
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 9)])
        #expect(net.server.ready(poll).isEmpty, "not again while nothing new arrives")
        #expect(try net.server.receive(server, limit: 1) == [1])
        #expect(net.server.ready(poll).isEmpty, "a partial read is no edge")
        #expect(try net.client.send(client, [4]) == 1)
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 9)], "new data: a new edge")
        #expect(net.server.ready(poll).isEmpty)
        // Sending and getting the ACK (room in the send buffer) is no new input.
        #expect(try net.server.send(server, [5, 6]) == 2)
        net.settle()
        #expect(net.server.ready(poll).isEmpty, "an output change is no edge for an input registration")
        #expect(net.server.drain(server).bytes == [2, 3, 4])
        net.settle()
        #expect(net.server.ready(poll).isEmpty)
        // With output asked for as well, the same ACK is an edge, and both conditions are reported.
        try net.server.control(poll, .modify, server, events: [.input, .output, .edgeTriggered], data: 9)
        #expect(net.server.ready(poll) == [EventPollEvent(events: .output, data: 9)], "writable right away")
        #expect(try net.client.send(client, [7]) == 1)
        #expect(try net.server.send(server, [8]) == 1)
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: [.input, .output], data: 9)])
    }

    @Test func oneShotIsDisarmedUntilModified() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: [.input, .oneShot], data: 1)
        #expect(try net.client.send(client, [1]) == 1)
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 1)])
        #expect(net.server.ready(poll).isEmpty, "disarmed")
        #expect(try net.client.send(client, [2]) == 1)
        net.settle()
        #expect(net.server.ready(poll).isEmpty, "new data while disarmed: still nothing")
        try net.server.control(poll, .modify, server, events: [.input, .oneShot], data: 2)
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 2)], "re-armed, and ready")
        #expect(net.server.ready(poll).isEmpty)
        #expect(net.server.drain(server).bytes == [1, 2])
    }

    @Test func peerHalfCloseReportsPeerHangUpThenBothDirectionsHangUp() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: [.input, .peerHangUp], data: 1)
        let clientPoll = try net.client.createEventPoll()
        try net.client.control(clientPoll, .add, client, events: .input, data: 2)  // no RDHUP asked for
        try net.client.shutdown(client, .write)
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: [.input, .peerHangUp], data: 1)])
        #expect(net.client.ready(clientPoll).isEmpty)

        try net.server.shutdown(server, .write)
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: [.input, .peerHangUp, .hangUp], data: 1)])
        #expect(net.client.ready(clientPoll) == [EventPollEvent(events: [.input, .hangUp], data: 2)],
                "RDHUP only when asked for; HUP always")
        // Both connections are closed; their blocks wait for the application's close.
        #expect(net.server.engine.connectionCount == 1 && net.client.engine.connectionCount == 1)
        try net.server.close(server)
        try net.client.close(client)
        #expect(net.server.ready(poll).isEmpty)
        #expect(net.server.engine.connectionCount == 0 && net.client.engine.connectionCount == 0)
    }

    @Test func ownShutdownAfterPeerHangUpIsAnEdge() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: [.input, .peerHangUp, .edgeTriggered], data: 1)
        try net.client.shutdown(client, .write)
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: [.input, .peerHangUp], data: 1)])
        #expect(net.server.ready(poll).isEmpty)
        try net.server.shutdown(server, .write)
        #expect(net.server.ready(poll) == [EventPollEvent(events: [.input, .peerHangUp, .hangUp], data: 1)],
                "both directions closed now: HUP, without waiting for the network")
    }

    @Test func crossingFINsReportHangUpToAnOutputRegistration() throws {
        // Both ends shut down in the same iteration: the peer's FIN arrives in
        // FIN-WAIT-1 (CLOSING) and completes HUP, which an output-only, edge-
        // triggered registration must hear of (HUP is always reported).
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let poll = try net.client.createEventPoll()
        try net.client.control(poll, .add, client, events: [.output, .edgeTriggered], data: 1)
        #expect(net.client.ready(poll) == [EventPollEvent(events: .output, data: 1)])
        try net.client.shutdown(client, .write)
        try net.server.shutdown(server, .write)
        #expect(net.client.ready(poll).isEmpty, "no longer writable, not yet hung up")
        net.step()
        #expect(net.client.state(of: client) == .closing)
        #expect(net.client.ready(poll) == [EventPollEvent(events: .hangUp, data: 1)])
    }

    @Test func connectionThatTimesOutReportsError() throws {
        // 198.18.0.9 never answers ARP: the SYN never leaves, and the connection
        // gives up after its SYN retransmissions.
        var net = SocketTestNetwork(client: TCPConfiguration(maxConnections: 32, maxBuffers: 32, delayedAck: nil,
                                                             maximumSYNRetransmissions: 1))
        let poll = try net.client.createEventPoll()
        let socket = try net.client.socket()
        try net.client.connect(socket, to: IPv4Address(198, 18, 0, 9), port: 80)
        try net.client.control(poll, .add, socket, events: [.output, .edgeTriggered], data: 1)
        var events: [EventPollEvent] = []
        for _ in 0..<600 where events.isEmpty {
            net.step(tick: .milliseconds(100))
            events = net.client.ready(poll)
        }
        #expect(events == [EventPollEvent(events: [.output, .error, .hangUp], data: 1)])
        #expect(try net.client.pendingError(of: socket) == .timedOut)
        #expect(failure { try net.client.receive(socket) } == .timedOut)
    }

    @Test func resetIsReportedAsErrorAndHangUp() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: [.input, .edgeTriggered], data: 4)
        try net.client.abort(client)
        net.settle()
        let events = net.server.ready(poll)
        #expect(events.count == 1)
        #expect(events.first?.events == [.input, .error, .hangUp])
        #expect(try net.server.pendingError(of: server) == .connectionReset)
    }

    @Test func alreadyReadySocketsAreReportedRightAfterAdd() throws {
        var net = SocketTestNetwork()
        let (listener, server, client) = try net.establish()
        #expect(try net.client.send(client, [1]) == 1)
        _ = try net.connect()  // waits in the listener's queue
        net.settle()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, server, events: [.input, .edgeTriggered], data: 1)
        try net.server.control(poll, .add, listener, events: [.input, .edgeTriggered], data: 2)
        let events = net.server.ready(poll)
        #expect(events == [EventPollEvent(events: .input, data: 1), EventPollEvent(events: .input, data: 2)])
        #expect(net.server.ready(poll).isEmpty)
    }

    @Test func listenerReportsInputForEachNewConnection() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        let poll = try net.server.createEventPoll()
        try net.server.control(poll, .add, listener, events: [.input, .edgeTriggered], data: 1)
        #expect(net.server.ready(poll).isEmpty)
        _ = try net.connect()
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 1)])
        _ = try net.connect()
        net.settle()
        #expect(net.server.ready(poll) == [EventPollEvent(events: .input, data: 1)], "a second connection: an edge")
        _ = try net.server.accept(listener)
        _ = try net.server.accept(listener)
        // Level-triggered: reported while a connection waits, not after.
        try net.server.control(poll, .modify, listener, events: .input, data: 1)
        #expect(net.server.ready(poll).isEmpty)
        _ = try net.connect()
        net.settle()
        #expect(net.server.ready(poll).count == 1)
        #expect(net.server.ready(poll).count == 1)
        _ = try net.server.accept(listener)
        #expect(net.server.ready(poll).isEmpty)
    }

    @Test func closedSocketsLeaveTheReadyList() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        var clients: [Socket] = []
        for _ in 0..<3 { clients.append(try net.connect()) }
        net.settle()
        var servers: [Socket] = []
        for _ in 0..<3 { servers.append(try net.server.accept(listener)) }
        let poll = try net.server.createEventPoll()
        for (index, socket) in servers.enumerated() {
            try net.server.control(poll, .add, socket, events: .input, data: UInt64(index))
        }
        for client in clients { #expect(try net.client.send(client, [7]) == 1) }
        net.settle()
        // All three queued (level-triggered: again, in the same order). The
        // middle one is closed, then the last, then the first.
        let order = net.server.ready(poll).map(\.data)
        #expect(order.sorted() == [0, 1, 2])
        #expect(net.server.ready(poll).map(\.data) == order)
        try net.server.close(servers[Int(order[1])])
        #expect(net.server.ready(poll).map(\.data) == [order[0], order[2]])
        try net.server.close(servers[Int(order[2])])
        #expect(net.server.ready(poll).map(\.data) == [order[0]])
        try net.server.close(servers[Int(order[0])])
        #expect(net.server.ready(poll).isEmpty)
        // A new socket in a recycled slot is not reported for the old one.
        let fresh = try net.server.socket()
        #expect(servers.contains { $0.index == fresh.index })
        #expect(net.server.ready(poll).isEmpty)
    }

    @Test func deleteAndCloseEventPollUnregister() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let first = try net.server.createEventPoll()
        try net.server.control(first, .add, server, events: .input, data: 1)
        #expect(try net.client.send(client, [1]) == 1)
        net.settle()
        try net.server.control(first, .delete, server)
        #expect(net.server.ready(first).isEmpty, "deleted while queued")
        try net.server.control(first, .add, server, events: .input, data: 1)
        try net.server.closeEventPoll(first)
        // The slot of the closed poll is handed out again, empty.
        let reused = try net.server.createEventPoll()
        #expect(reused.index == first.index)
        #expect(net.server.ready(reused).isEmpty)
        #expect(try net.client.send(client, [2]) == 1)
        net.settle()
        #expect(net.server.ready(reused).isEmpty, "the socket is no longer registered")
        // So it can join another poll.
        let second = try net.server.createEventPoll()
        try net.server.control(second, .add, server, events: .input, data: 2)
        #expect(net.server.ready(second) == [EventPollEvent(events: .input, data: 2)])
    }

    /// A poll's handle kept after `closeEventPoll` must not reach the poll
    /// that reuses its slot (as a socket's handle kept after `close`).
    @Test func aStaleEventPollHandleReachesNothing() throws {
        var net = SocketTestNetwork()
        let (_, server, client) = try net.establish()
        let stale = try net.server.createEventPoll()
        try net.server.closeEventPoll(stale)
        let current = try net.server.createEventPoll()
        #expect(current.index == stale.index, "the slot is reused")
        #expect(current != stale)
        try net.server.control(current, .add, server, events: .input, data: 7)
        #expect(try net.client.send(client, [1]) == 1)
        net.settle()
        #expect(net.server.ready(stale).isEmpty, "the stale handle steals no event")
        #expect(failure { try net.server.control(stale, .modify, server, events: .output) } == .invalidHandle)
        #expect(failure { try net.server.closeEventPoll(stale) } == .invalidHandle)
        #expect(net.server.ready(current) == [EventPollEvent(events: .input, data: 7)], "still registered as it was")
    }

    @Test func waitWithOneSlotLosesNothing() throws {
        var net = SocketTestNetwork()
        let listener = try net.listen()
        var clients: [Socket] = []
        for _ in 0..<3 { clients.append(try net.connect()) }
        net.settle()
        let poll = try net.server.createEventPoll()
        var servers: [Socket] = []
        for index in 0..<3 {
            let socket = try net.server.accept(listener)
            servers.append(socket)
            try net.server.control(poll, .add, socket, events: index == 0 ? .input : [.input, .edgeTriggered],
                                   data: UInt64(index))
        }
        for client in clients { #expect(try net.client.send(client, [1]) == 1) }
        net.settle()
        var seen: [UInt64] = []
        for _ in 0..<3 {
            let events = net.server.ready(poll, capacity: 1)
            #expect(events.count == 1)
            seen += events.map(\.data)
        }
        #expect(seen.sorted() == [0, 1, 2], "each ready socket once: \(seen)")
        // Only the level-triggered one is still queued.
        #expect(net.server.ready(poll, capacity: 1).map(\.data) == [0])
        #expect(net.server.ready(poll, capacity: 4).map(\.data) == [0])
        // A zero-sized buffer takes nothing off the list.
        #expect(net.server.ready(poll, capacity: 0).isEmpty)
        #expect(net.server.ready(poll, capacity: 4).map(\.data) == [0])
    }

    // MARK: - constants

    @Test func errnosAndEventBitsAreLinuxs() {
        let errnos: [(SocketError, Int32)] = [
            (.invalidHandle, EBADF), (.wouldBlock, EAGAIN), (.notConnected, ENOTCONN), (.closedForWriting, EPIPE),
            (.connectionReset, ECONNRESET), (.connectionRefused, ECONNREFUSED), (.timedOut, ETIMEDOUT),
            (.addressInUse, EADDRINUSE), (.addressNotAvailable, EADDRNOTAVAIL), (.noResources, ENOBUFS), (.invalidArgument, EINVAL),
            (.alreadyConnected, EISCONN), (.alreadyRegistered, EEXIST), (.notRegistered, ENOENT),
        ]
        for (error, expected) in errnos { #expect(error.errno == expected, "\(error)") }
        // <sys/epoll.h> (not in the Glibc module): EPOLLIN, OUT, ERR, HUP, RDHUP, ET, ONESHOT.
        let bits: [(EventPollEvents, UInt32)] = [
            (.input, 0x001), (.output, 0x004), (.error, 0x008), (.hangUp, 0x010), (.peerHangUp, 0x2000),
            (.edgeTriggered, 0x8000_0000), (.oneShot, 0x4000_0000),
        ]
        for (events, expected) in bits { #expect(events.rawValue == expected, "\(events)") }
        #expect(EventPollEvents([.input, .peerHangUp, .edgeTriggered]).description == "IN|RDHUP|ET")
        #expect(Socket(index: 3, generation: 2).description == "socket#3.2")
        #expect(SocketAddress(address: Self.serverIP, port: 80).description == "198.18.0.1:80")
    }

    // MARK: - closeListeners

    @Test func closeListenersRefusesNewConnectionsWhileEstablishedOnesGoOn() throws {
        var net = SocketTestNetwork()
        let (listener, server, client) = try net.establish()
        let other = try net.listen(port: 81)
        let waiting = try net.connect()  // established, never accepted
        net.settle()
        let count = net.server.socketCount
        net.server.closeListeners()
        #expect(net.server.socketCount == count - 2)
        #expect(failure { try net.server.accept(listener) } == .invalidHandle)
        #expect(failure { try net.server.accept(other) } == .invalidHandle)
        net.settle()
        #expect(try net.client.pendingError(of: waiting) == .connectionReset, "not accepted: reset")

        let late = try net.connect()
        net.settle()
        #expect(try net.client.pendingError(of: late) == .connectionRefused)

        #expect(try net.client.send(client, Array("still".utf8)) == 5)
        net.settle()
        #expect(net.server.drain(server).bytes == Array("still".utf8))
        #expect(try net.server.send(server, Array("here".utf8)) == 4)
        net.settle()
        #expect(net.client.drain(client).bytes == Array("here".utf8))
        // The port is free again.
        _ = try net.listen()
        net.server.closeListeners()
        net.server.closeListeners()  // nothing left to close
    }
}
