import Glibc
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// An `HTTPServer` on a server `SocketContext` and a client `Engine` driven by the
/// test, on one in-memory virtual link, with time advanced explicitly (the
/// server's once-a-second sweep and its timeouts read the context's `now`).
struct HTTPTestNetwork: ~Copyable {
    static let serverMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let clientMAC = MACAddress(0x02, 0, 0, 0, 0, 0x03)
    static let serverIP = IPv4Address(198, 18, 0, 1)
    static let clientIP = IPv4Address(198, 18, 0, 3)
    static let port: UInt16 = 80

    static func tcp(receiveBufferSize: Int = 16384, sendBufferSize: Int = 16384) -> TCPConfiguration {
        TCPConfiguration(maxConnections: 64, maxBuffers: 256, receiveBufferSize: receiveBufferSize,
                         sendBufferSize: sendBufferSize, idleTimeout: .seconds(600))
    }

    /// Short timeouts, so that the tests advance little time.
    static func options(root: String, maxFileBytes: Int = DocumentRoot.maxFileBytes) -> HTTPServerOptions {
        var options = HTTPServerOptions(cache: StaticFileCacheConfiguration(documentRoot: root,
                                                                            maxFileBytes: maxFileBytes))
        options.port = port
        options.headerTimeout = .seconds(3)
        options.idleTimeout = .seconds(8)
        return options
    }

    /// `options` with `/api/` routed to the scripted upstream on the client's address.
    static func proxied(_ options: HTTPServerOptions, prefix: String = "/api/") -> HTTPServerOptions {
        var options = options
        options.routes = [ProxyRoute(prefix: prefix, pool: 0)]
        options.pools = [ProxyPool(servers: [ProxyServer(address: clientIP, port: ScriptedUpstream.port)])]
        return options
    }

    let link: VirtualLink
    var server: SocketContext<VirtualPort>
    var client: Engine<VirtualPort>
    var http: HTTPServer<VirtualPort>
    /// Every connection opened by `open`, driven in every round.
    var clients: [HTTPTestClient] = []
    /// The proxy's upstreams, on the client's engine, as `startUpstream` made them.
    var upstreams: [ScriptedUpstream] = []
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)

    init(options: HTTPServerOptions, configurationSource: ReloadableConfiguration? = nil,
         server serverTCP: TCPConfiguration = Self.tcp(), client clientTCP: TCPConfiguration = Self.tcp()) {
        link = VirtualLink(seed: 7)
        func configuration(_ ip: IPv4Address, peer: IPv4Address, peerMAC: MACAddress,
                           _ tcp: TCPConfiguration) -> EngineConfiguration {
            EngineConfiguration(address: IPv4Network(address: ip, prefixLength: 24),
                                staticNeighbours: [.init(address: peer, mac: peerMAC)], tcp: tcp,
                                secret: SipHash(key0: 7, key1: 77))
        }
        server = SocketContext(engine: Engine(
            device: link.makePort(macAddress: Self.serverMAC, bufferCount: 1024),
            configuration: configuration(Self.serverIP, peer: Self.clientIP, peerMAC: Self.clientMAC, serverTCP)))
        client = Engine(device: link.makePort(macAddress: Self.clientMAC, bufferCount: 1024),
                        configuration: configuration(Self.clientIP, peer: Self.serverIP, peerMAC: Self.serverMAC,
                                                     clientTCP))
        http = try! HTTPServer(options: options, configurationSource: configurationSource)
        try! http.start(&server)
    }

    deinit { scratch.deallocate() }

    /// One iteration of both engines, then time moves on by `tick`.
    mutating func round(tick: TimeSpan = .milliseconds(1)) {
        let now = link.now
        server.poll(now: now)
        http.handle(&server)
        server.flush()
        client.poll(now: now)
        while client.nextEvent() != nil {}
        for connection in clients where !connection.closed {
            connection.drive(&client, now: now, scratch: scratch)
        }
        for upstream in upstreams { upstream.drive(&client, now: now, scratch: scratch) }
        client.flush(now: now)
        link.now = now + tick
    }

    /// Opens a client connection that sends `bytes` (more can be queued later).
    mutating func open(sending bytes: [UInt8] = [], readLimit: Int = .max, port: UInt16 = Self.port) -> HTTPTestClient {
        let connection = HTTPTestClient(readLimit: readLimit)
        connection.id = try? client.connect(to: Self.serverIP, port: port, now: link.now)
        connection.pending = bytes
        clients.append(connection)
        return connection
    }

    /// Runs rounds until `done` holds or `limit` of link time has passed; returns `done`.
    @discardableResult
    mutating func run(for limit: TimeSpan = .seconds(5), tick: TimeSpan = .milliseconds(1),
                      until done: () -> Bool) -> Bool {
        let deadline = link.now + limit
        while link.now < deadline {
            if done() { return true }
            round(tick: tick)
        }
        return done()
    }

    /// Runs rounds for `duration` of link time.
    mutating func advance(_ duration: TimeSpan, tick: TimeSpan = .milliseconds(1)) {
        run(for: duration, tick: tick) { false }
    }

    /// Sends `request` on a new connection; returns it after `responses` complete
    /// responses have arrived or the server closed (or `limit` passed).
    mutating func exchange(_ request: String, responses: Int = 1, headRequests: Set<Int> = [],
                           limit: TimeSpan = .seconds(5)) -> HTTPTestClient {
        exchange(Array(request.utf8), responses: responses, headRequests: headRequests, limit: limit)
    }

    mutating func exchange(_ request: [UInt8], responses: Int = 1, headRequests: Set<Int> = [],
                           limit: TimeSpan = .seconds(5)) -> HTTPTestClient {
        let connection = open(sending: request)
        run(for: limit) {
            connection.closed || connection.responses(headRequests: headRequests).count >= responses
        }
        return connection
    }

    var serverStatistics: HTTPServerStatistics { http.statistics }

    /// Starts an upstream of the proxy on `port` of the client's address and returns it.
    mutating func startUpstream(port: UInt16 = ScriptedUpstream.port) -> ScriptedUpstream {
        let upstream = ScriptedUpstream(&client, port: port)
        upstreams.append(upstream)
        return upstream
    }
}

/// One client connection: bytes to send (all at once, or in pieces a round), bytes
/// received, how it ended.
final class HTTPTestClient {
    var id: ConnectionID?
    /// Bytes not yet handed to the stack.
    var pending: [UInt8] = []
    /// At most this many bytes written per round (1: a segment per byte).
    var writeChunk = Int.max
    /// At most this many bytes read per round (0: the client stopped reading).
    var readLimit: Int
    var received: [UInt8] = []
    /// The server closed its direction (FIN), after everything was read.
    var sawEndOfStream = false
    /// The connection failed (a reset from the server).
    var error: SocketError?
    var closed = false
    /// Whether to half-close once everything pending is written.
    var shutdownAfterSending = false

    init(readLimit: Int) { self.readLimit = readLimit }

    func send(_ text: String) { pending += Array(text.utf8) }

    func drive(_ engine: inout Engine<VirtualPort>, now: Instant, scratch: UnsafeMutableRawBufferPointer) {
        guard let id, !closed else { return }
        if !pending.isEmpty, engine.state(of: id) != .synSent {
            let chunk = min(pending.count, writeChunk)
            if let count = pending.withUnsafeBytes({ try? engine.write(id, UnsafeRawBufferPointer(rebasing: $0[0..<chunk])) }) {
                pending.removeFirst(count)
            }
        }
        if pending.isEmpty && shutdownAfterSending { try? engine.shutdownWrite(id) }
        var budget = readLimit
        while budget > 0 {
            do {
                let count = try engine.read(id, into: UnsafeMutableRawBufferPointer(
                    rebasing: scratch[0..<min(scratch.count, budget)]), now: now)
                if count == 0 {
                    sawEndOfStream = true
                    engine.close(id, now: now)
                    closed = true
                    return
                }
                received += scratch[0..<count]
                budget -= count
            } catch .wouldBlock {
                return
            } catch {
                self.error = error
                engine.close(id, now: now)
                closed = true
                return
            }
        }
    }

    /// Closed by the server with a FIN after its response (not a reset).
    var closedCleanly: Bool { closed && sawEndOfStream && error == nil }

    /// Closes from the client side.
    func close(_ engine: inout Engine<VirtualPort>, now: Instant) {
        guard let id, !closed else { return }
        engine.close(id, now: now)
        closed = true
    }

    /// Resets the connection from the client side (a client that gives up at once).
    func reset(_ engine: inout Engine<VirtualPort>, now: Instant) {
        guard let id, !closed else { return }
        engine.abort(id, now: now)
        closed = true
    }

    /// The complete responses received so far; `headRequests` are the indices of
    /// responses to HEAD requests (no body whatever Content-Length says).
    func responses(headRequests: Set<Int> = []) -> [HTTPTestResponse] {
        HTTPTestResponse.parseAll(received, headRequests: headRequests).responses
    }
}

/// A response as the client saw it.
struct HTTPTestResponse: CustomStringConvertible {
    var version: String
    var status: Int
    var reason: String
    /// Field names lowercased, in order.
    var fields: [(name: String, value: String)]
    var body: [UInt8]

    func field(_ name: String) -> String? {
        fields.first { $0.name == name.lowercased() }?.value
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    var description: String {
        "\(version) \(status) \(reason) " + fields.map { "\($0.name): \($0.value)" }.joined(separator: "; ")
            + " (\(body.count) body bytes)"
    }

    /// Splits a byte stream into responses; `rest` is an incomplete tail.
    static func parseAll(_ bytes: [UInt8], headRequests: Set<Int> = []) -> (responses: [HTTPTestResponse], rest: Int) {
        var responses: [HTTPTestResponse] = []
        var start = 0
        while let (response, length) = parse(bytes[start...], isHead: headRequests.contains(responses.count)) {
            responses.append(response)
            start += length
        }
        return (responses, bytes.count - start)
    }

    /// One response from the front of `bytes` and its length, or nil if incomplete.
    static func parse(_ bytes: ArraySlice<UInt8>, isHead: Bool) -> (HTTPTestResponse, Int)? {
        let crlfcrlf: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        var end: Int?
        var index = bytes.startIndex
        while index + 4 <= bytes.endIndex {
            if bytes[index] == 13, Array(bytes[index..<index + 4]) == crlfcrlf { end = index; break }
            index += 1
        }
        guard let headEnd = end else { return nil }
        let headText = String(decoding: bytes[bytes.startIndex..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let fields = lines.map { line -> (String, String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (parts[0].lowercased(), parts.count > 1 ? String(parts[1]).trimmed() : "")
        }
        var response = HTTPTestResponse(version: String(statusLine[0]), status: status,
                                        reason: statusLine.count > 2 ? String(statusLine[2]) : "",
                                        fields: fields.map { (name: $0.0, value: $0.1) }, body: [])
        let bodyStart = headEnd + 4
        let hasBody = !isHead && status != 304 && status != 204 && !(100..<200).contains(status)
        let length = hasBody ? Int(response.field("content-length") ?? "0") ?? 0 : 0
        guard bytes.endIndex - bodyStart >= length else { return nil }
        response.body = Array(bytes[bodyStart..<bodyStart + length])
        return (response, bodyStart + length - bytes.startIndex)
    }
}

extension String {
    func trimmed() -> String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return String(slice)
    }

    func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[rest.startIndex..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

/// A temporary document root: files of several sizes, a directory with an index,
/// a symlink leading out of the root, and a secret file beside (outside) the root.
final class DocumentRoot {
    /// The cache's largest in-memory file in these tests; `big.bin` is larger (streamed).
    static let maxFileBytes = 32 << 10
    static let secret = "TOP-SECRET-OUTSIDE-THE-ROOT"

    let base: String
    var path: String { base + "/www" }
    let small = Array("hello, world\n".utf8)
    let page = Array(String(repeating: "<p>mtcp</p>\n", count: 100).utf8)
    var medium: [UInt8] { Self.mediumBytes }
    var big: [UInt8] { Self.bigBytes }
    private static let mediumBytes = DocumentRoot.bytes(20_000, seed: 2)
    private static let bigBytes = DocumentRoot.bytes(300_000, seed: 3)
    let index = Array("<html>the index of dir</html>\n".utf8)

    init() {
        var template = Array("/tmp/mtcp-http-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        base = String(cString: made)
        mkdir(path, 0o755)
        mkdir(path + "/dir", 0o755)
        write("small.txt", small)
        write("page.html", page)
        write("medium.bin", medium)
        write("big.bin", big)
        write("dir/index.html", index)
        write("../secret.txt", Array(Self.secret.utf8))
        symlink(base + "/secret.txt", path + "/escape.txt")
        symlink(base, path + "/up")
    }

    deinit {
        for name in ["www/escape.txt", "www/up", "www/small.txt", "www/page.html", "www/medium.bin", "www/big.bin",
                     "www/dir/index.html", "secret.txt"] {
            unlink(base + "/" + name)
        }
        rmdir(path + "/dir")
        rmdir(path)
        rmdir(base)
    }

    func write(_ name: String, _ bytes: [UInt8]) {
        let descriptor = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(descriptor >= 0, "cannot create \(name)")
        bytes.withUnsafeBytes { precondition(Glibc.write(descriptor, $0.baseAddress, $0.count) == $0.count) }
        close(descriptor)
    }

    /// Deterministic, non-periodic bytes.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }
}
