import MTCP
import MTCPRuntime

@testable import mtcp_loadgen

/// One core of the load generator (`HTTPLoad` on a socket context) against a
/// scripted HTTP server (a second socket context driven by the test), on one
/// virtual link with time advanced explicitly: overload, stalls and servers
/// that never answer are reproduced exactly, without root or a real network.
struct LoadgenTestNetwork: ~Copyable {
    static let serverIP = IPv4Address(198, 18, 0, 1)
    static let clientIP = IPv4Address(198, 18, 0, 3)
    static let serverMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let clientMAC = MACAddress(0x02, 0, 0, 0, 0, 0x03)
    /// Link time starts here, far from zero, so a time taken from an unset
    /// `Instant.zero` shows as a huge span.
    static let startTime = Instant(nanoseconds: 1_000_000_000_000)

    let link: VirtualLink
    var server: SocketContext<VirtualPort>
    var client: SocketContext<VirtualPort>
    var load: HTTPLoad<VirtualPort>
    let board = LoadBoard(cores: 1)
    let script: ScriptedHTTPServer

    init(plan: HTTPPlan, script: ScriptedHTTPServer, clientSendBuffer: Int = 16384) {
        let link = VirtualLink(seed: 3)
        link.now = Self.startTime
        self.link = link
        func context(_ ip: IPv4Address, _ mac: MACAddress, peer: IPv4Address, peerMAC: MACAddress,
                     sendBuffer: Int) -> SocketContext<VirtualPort> {
            let tcp = TCPConfiguration(maxConnections: 64, maxBuffers: 512, receiveBufferSize: 16384,
                                       sendBufferSize: sendBuffer, delayedAck: nil)
            let configuration = EngineConfiguration(address: IPv4Network(address: ip, prefixLength: 24),
                                                    staticNeighbours: [.init(address: peer, mac: peerMAC)],
                                                    tcp: tcp, secret: SipHash(key0: 3, key1: 33))
            return SocketContext(engine: Engine(device: link.makePort(macAddress: mac, bufferCount: 1024),
                                                configuration: configuration), now: Self.startTime)
        }
        server = context(Self.serverIP, Self.serverMAC, peer: Self.clientIP, peerMAC: Self.clientMAC,
                         sendBuffer: 16384)
        client = context(Self.clientIP, Self.clientMAC, peer: Self.serverIP, peerMAC: Self.serverMAC,
                         sendBuffer: clientSendBuffer)
        self.script = script
        script.listen(&server)
        load = HTTPLoad(plan: plan, core: 0, cores: 1, board: board)
        try! load.start(&client)
    }

    /// A plan against the scripted server; times in seconds.
    static func plan(total: Int? = nil, duration: Double? = nil, warmup: Double = 0, rate: Double? = nil,
                     concurrency: Int = 1, requestsPerConnection: Int = 1, readTimeout: Double = 1,
                     headers: [String] = []) -> HTTPPlan {
        let target = try! HTTPTarget(url: "http://198.18.0.1:80/x")
        let workload = Workload(single: target)
        let builder = RequestBuilder(http10: false, requestsPerConnection: requestsPerConnection, extraHeaders: headers)
        return HTTPPlan(workload: workload, requests: [builder.request(for: target)], expectedBodies: [nil],
                        expectedSHA256: nil, expectedStatus: 200, totalRequests: total,
                        duration: duration.map(HTTPRun.span), warmup: HTTPRun.span(warmup),
                        concurrency: concurrency, requestsPerConnection: requestsPerConnection, rate: rate,
                        connectTimeout: .seconds(1), readTimeout: HTTPRun.span(readTimeout), seed: 1)
    }

    /// One iteration of the server and of the load generator, then time moves on.
    mutating func step(tick: TimeSpan) {
        let now = link.now
        server.poll(now: now)
        script.serve(&server, now: now)
        server.flush()
        client.poll(now: now)
        load.handle(&client)
        client.flush()
        link.now = now + tick
    }

    /// Runs until the load generator has finished on its own or `limit` of link
    /// time has passed; then stops it as a signal would (requests still in
    /// flight count as unfinished) and returns the published figures.
    mutating func run(for limit: TimeSpan, tick: TimeSpan = .microseconds(100)) -> (LoadCounts, LatencyHistograms) {
        let deadline = link.now + limit
        while link.now < deadline && !board.total.finished { step(tick: tick) }
        finish()
        return (board.total, board.histograms)
    }

    /// Stops the load generator as a signal would and publishes its figures.
    mutating func finish() {
        load.stopAccepting(&client)
        _ = load.isFinished(client)
    }
}

/// The server side: accepts every connection, reads requests (a head ends at an
/// empty line; requests carry no body) and answers each as `reply` says for
/// the request's number (0, 1, 2, ... over the whole run).
final class ScriptedHTTPServer {
    enum Reply {
        /// These bytes, `delay` after the request arrived; then the server closes if `close`.
        case respond([UInt8], after: TimeSpan = .zero, close: Bool = false)
        /// Pieces, each at its delay after the request arrived (the connection stays open).
        case pieces([(TimeSpan, [UInt8])])
        /// Nothing, ever (the connection stays open).
        case never
    }

    /// A 200 response with a 2-byte body.
    static let ok = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)

    private struct Connection {
        var socket: Socket
        var received: [UInt8] = []
    }

    private struct Due {
        var socket: Socket
        var at: Instant
        var bytes: [UInt8]
        var close: Bool
    }

    let reply: (Int) -> Reply
    /// Bytes written as soon as a connection is accepted, before any request.
    let greeting: [UInt8]
    private(set) var requests = 0
    private var listener = Socket(rawValue: 0)
    private var connections: [Connection] = []
    private var due: [Due] = []

    init(greeting: [UInt8] = [], reply: @escaping (Int) -> Reply) {
        self.greeting = greeting
        self.reply = reply
    }

    func listen(_ context: inout SocketContext<VirtualPort>) {
        listener = try! context.socket()
        try! context.bind(listener, port: 80)
        try! context.listen(listener)
    }

    func serve(_ context: inout SocketContext<VirtualPort>, now: Instant) {
        while let socket = try? context.accept(listener) {
            connections.append(Connection(socket: socket))
            if !greeting.isEmpty { _ = write(greeting, to: socket, &context) }
        }
        var open: [Connection] = []
        for var connection in connections {
            if read(&connection, &context, now: now) { open.append(connection) }
        }
        connections = open
        let ready = due.filter { $0.at <= now }
        due.removeAll { $0.at <= now }
        for answer in ready {
            _ = write(answer.bytes, to: answer.socket, &context)
            if answer.close { try? context.close(answer.socket) }
        }
    }

    /// Reads what arrived and schedules the answers; false once the connection is gone.
    private func read(_ connection: inout Connection, _ context: inout SocketContext<VirtualPort>,
                      now: Instant) -> Bool {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            do {
                let count = try context.read(connection.socket, into: buffer)
                if count == 0 {
                    try? context.close(connection.socket)
                    return false
                }
                connection.received += buffer[0..<count]
            } catch .wouldBlock {
                break
            } catch {
                try? context.close(connection.socket)
                return false
            }
        }
        let end = Array("\r\n\r\n".utf8)
        while let head = firstRange(of: end, in: connection.received) {
            connection.received.removeFirst(head.upperBound)
            switch reply(requests) {
            case .respond(let bytes, let delay, let close):
                due.append(Due(socket: connection.socket, at: now + delay, bytes: bytes, close: close))
            case .pieces(let pieces):
                for (delay, bytes) in pieces {
                    due.append(Due(socket: connection.socket, at: now + delay, bytes: bytes, close: false))
                }
            case .never:
                break
            }
            requests += 1
        }
        return true
    }

    private func write(_ bytes: [UInt8], to socket: Socket, _ context: inout SocketContext<VirtualPort>) -> Int {
        bytes.withUnsafeBytes { (try? context.write(socket, $0)) ?? 0 }
    }

    private func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start..<start + needle.count
        }
        return nil
    }
}
