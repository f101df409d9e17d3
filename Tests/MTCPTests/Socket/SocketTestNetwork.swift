import Testing
@testable import MTCP

/// Two socket contexts on one virtual link, both driven by the test through the
/// socket and event API, with time advanced explicitly: the server at
/// 198.18.0.1, the client at 198.18.0.3. No application runs on either side
/// unless the test calls it between `step`s.
struct SocketTestNetwork: ~Copyable {
    static let serverIP = TCPTestNetwork.serverIP
    static let clientIP = TCPTestNetwork.clientIP
    /// The IPv6 addresses of the two sides when the network is built with `ipv6`.
    static let serverIPv6 = IPv6Address("2001:2::1")!
    static let clientIPv6 = IPv6Address("2001:2::3")!

    /// Small pools, and ACKs at once (no delayed ACK), so a few steps settle any exchange.
    static func tcp(sendBufferSize: Int = 8192, receiveBufferSize: Int = 8192) -> TCPConfiguration {
        TCPConfiguration(maxConnections: 32, maxBuffers: 32, receiveBufferSize: receiveBufferSize,
                         sendBufferSize: sendBufferSize, delayedAck: nil)
    }

    let link: VirtualLink
    var server: SocketContext<VirtualPort>
    var client: SocketContext<VirtualPort>

    /// - Parameter serverBuffers: the packet buffers of the server's port.
    /// - Parameter ipv6: both sides get an IPv6 address as well (neighbours found by ND).
    /// - Parameter transmitQueue: frames each engine's transmit queue holds.
    init(server serverTCP: TCPConfiguration = Self.tcp(), client clientTCP: TCPConfiguration = Self.tcp(),
         serverSockets: Int? = nil, clientSockets: Int? = nil, serverBuffers: Int = 512, ipv6: Bool = false,
         transmitQueue: Int = 4096) {
        link = VirtualLink(seed: 7)
        func configuration(_ ip: IPv4Address, peer: IPv4Address, peerMAC: MACAddress,
                           _ tcp: TCPConfiguration) -> EngineConfiguration {
            var configuration = EngineConfiguration(address: IPv4Network(address: ip, prefixLength: 24),
                                                    staticNeighbours: [.init(address: peer, mac: peerMAC)], tcp: tcp,
                                                    secret: SipHash(key0: 7, key1: 11))
            configuration.transmitQueueCapacity = transmitQueue
            if ipv6 {
                let address = ip == Self.serverIP ? Self.serverIPv6 : Self.clientIPv6
                configuration.ipv6 = IPv6Configuration(addresses: [IPv6Network(address: address, prefixLength: 64)])
            }
            return configuration
        }
        server = SocketContext(
            engine: Engine(device: link.makePort(macAddress: TCPTestNetwork.serverMAC, bufferCount: serverBuffers),
                           configuration: configuration(Self.serverIP, peer: Self.clientIP,
                                                        peerMAC: TCPTestNetwork.clientMAC, serverTCP)),
            maxSockets: serverSockets)
        client = SocketContext(
            engine: Engine(device: link.makePort(macAddress: TCPTestNetwork.clientMAC, bufferCount: 512),
                           configuration: configuration(Self.clientIP, peer: Self.serverIP,
                                                        peerMAC: TCPTestNetwork.serverMAC, clientTCP)),
            maxSockets: clientSockets)
    }

    /// One iteration of each side (input, then output), then time moves on by `tick`.
    mutating func step(tick: TimeSpan = .milliseconds(1)) {
        let now = link.now
        server.poll(now: now)
        server.flush()
        client.poll(now: now)
        client.flush()
        link.now = now + tick
    }

    /// Enough steps for any exchange of a test on the clean link to settle.
    mutating func settle(_ steps: Int = 6) {
        for _ in 0..<steps { step() }
    }

    /// A listening socket of the server on `port`.
    mutating func listen(port: UInt16 = 80, sendBufferSize: Int? = nil) throws(SocketError) -> Socket {
        let listener = try server.socket()
        if let sendBufferSize {
            var options = try server.options(of: listener)
            options.sendBufferSize = sendBufferSize
            try server.setOptions(listener, options)
        }
        try server.bind(listener, port: port)
        try server.listen(listener)
        return listener
    }

    /// A client socket connecting to the server's `port` (not yet stepped).
    mutating func connect(port: UInt16 = 80) throws(SocketError) -> Socket {
        let socket = try client.socket()
        try client.connect(socket, to: Self.serverIP, port: port)
        return socket
    }

    /// A listener, a connection to it, and the accepted socket, all established.
    mutating func establish(port: UInt16 = 80) throws(SocketError) -> (listener: Socket, server: Socket, client: Socket) {
        let listener = try listen(port: port)
        let client = try connect(port: port)
        settle()
        let server = try self.server.accept(listener)
        return (listener, server, client)
    }
}

extension SocketContext {
    /// `write` of an array's bytes.
    mutating func send(_ socket: Socket, _ bytes: [UInt8]) throws(SocketError) -> Int {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        return try write(socket, UnsafeRawBufferPointer(buffer))
    }

    /// One `read` of at most `limit` bytes: the bytes, empty at end of stream.
    mutating func receive(_ socket: Socket, limit: Int = 1 << 16) throws(SocketError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: limit, alignment: 1)
        defer { buffer.deallocate() }
        let count = try read(socket, into: buffer)
        return Array(buffer[0..<count])
    }

    /// Reads until `read` would block, ends or fails.
    mutating func drain(_ socket: Socket) -> (bytes: [UInt8], end: Bool, error: SocketError?) {
        var bytes: [UInt8] = []
        while true {
            do {
                let chunk = try receive(socket)
                if chunk.isEmpty { return (bytes, true, nil) }
                bytes += chunk
            } catch .wouldBlock {
                return (bytes, false, nil)
            } catch {
                return (bytes, false, error)
            }
        }
    }

    /// One `wait` into a buffer of `capacity` events.
    mutating func ready(_ poll: EventPoll, capacity: Int = 16) -> [EventPollEvent] {
        let events = UnsafeMutableBufferPointer<EventPollEvent>.allocate(capacity: capacity)
        defer { events.deallocate() }
        let count = wait(poll, into: events)
        return Array(events[0..<count])
    }
}

/// The error `body` throws, nil when it succeeds. (`#expect(throws:)` cannot
/// take calls on a noncopyable network directly.)
/// Any other error is a test failure.
func failure<T>(_ body: () throws -> T, sourceLocation: SourceLocation = #_sourceLocation) -> SocketError? {
    do {
        _ = try body()
        return nil
    } catch let error as SocketError {
        return error
    } catch {
        Issue.record("not a SocketError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
