import COpenSSL
@testable import MTCP
import MTCPTLS
import MTCPHTTP

/// A kernel-like upstream for the proxy's tests, listening on the test client's
/// engine: it logs the exact bytes each connection received, splits them into
/// requests with the project's strict parser (as a correct upstream would), and
/// answers each one with `response`.
final class ScriptedUpstream {
    static let port: UInt16 = 8080

    /// One accepted connection: its bytes, and the requests found in them.
    final class Connection {
        let id: ConnectionID
        var received: [UInt8] = []
        /// Each complete request, head and body, exactly as received.
        var requests: [[UInt8]] = []
        /// Bytes to write back.
        var pending: [UInt8] = []
        var closed = false
        fileprivate var requestStart = 0
        fileprivate var parser = HTTPRequestParser()
        fileprivate var head: HTTPRequestHead?
        fileprivate var bodyLeft = 0
        fileprivate var chunks: HTTPChunkedDecoder?
        fileprivate var sawEndOfStream = false
        /// HTTPS: the connection's TLS state, and its ciphertext each way.
        let tls: TLSTestPeer?
        fileprivate var ciphertextIn: [UInt8] = []
        fileprivate var ciphertextOut: [UInt8] = []
        /// Responses followed by `recordAfterResponse` so far.
        fileprivate var recordsAfterResponses = 0

        init(id: ConnectionID, tls: TLSTestPeer? = nil) {
            self.id = id
            self.tls = tls
        }

        /// The bytes that go to the engine: the response bytes, or their ciphertext.
        fileprivate var wire: ReferenceWritableKeyPath<Connection, [UInt8]> { tls == nil ? \.pending : \.ciphertextOut }

        /// Nothing is left to write.
        fileprivate var isFlushed: Bool { self[keyPath: wire].isEmpty && pending.isEmpty && tls?.isSending != true }

        /// HTTPS: decrypts what arrived into `received`, encrypts `pending`.
        fileprivate func pumpTLS() {
            guard let tls else { return }
            tls.send(pending)
            pending = []
            tls.pump(received: ciphertextIn, into: &ciphertextOut)
            received += tls.plaintext
            tls.plaintext = []
        }

        var text: String { String(decoding: received, as: UTF8.self) }
        var requestTexts: [String] { requests.map { String(decoding: $0, as: UTF8.self) } }
    }

    let listener: ListenerID
    var connections: [Connection] = []
    /// The answer to each request.
    var response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
    /// Answer as soon as a head is complete, before its body (an early 401).
    var answersBeforeBody = false
    /// Close after each response (the end of a close-delimited body).
    var closesAfterResponse = false
    /// Close each connection as soon as a request is complete, answering nothing
    /// (a server that dies with the request in hand).
    var closesWithoutAnswer = false
    /// Requests answered per connection; the next one closes it unanswered (a
    /// kept-alive connection the server closed just as the proxy reused it).
    var answersPerConnection = Int.max
    /// Whether received bytes are read at all (false: a stalled server whose
    /// receive window fills).
    var reads = true
    /// After its first request a connection echoes every byte it receives (the
    /// new protocol after a 101 `response`), and closes once the proxy's
    /// direction has ended and the echo is written.
    var echoesAfterFirstRequest = false
    /// HTTPS: close with a bare FIN, without close_notify first (a server that
    /// crashed, or a FIN forged on the path: a truncation attack).
    var omitsCloseNotify = false
    /// HTTPS: after each response, these bytes in a record of their own (a
    /// server that sends past its response; the proxy must not take them for
    /// the next request's answer). Not with `holdsAnswers`.
    var recordAfterResponse: [UInt8]?
    /// Only the first bytes of that record go on the wire (a record under way).
    var cutsRecordAfterResponse = false
    /// Requests are not answered until `answerNext` says so (a busy server).
    var holdsAnswers = false
    /// The connections of the requests held unanswered, in the order they came.
    var held: [Connection] = []
    /// HTTPS (`serveTLS`): the server context each new connection's TLS starts
    /// from, and the ticket keys it uses; nil: plain HTTP.
    private(set) var tlsContext: OpaquePointer?
    private var ticketKeys: TicketKeyRing?

    init(_ engine: inout Engine<VirtualPort>, port: UInt16 = ScriptedUpstream.port) {
        listener = try! engine.listen(port: port)
    }

    deinit { SSL_CTX_free(tlsContext) }

    /// Speaks HTTPS from now on, with this certificate chain and key, and session tickets.
    func serveTLS(certificate: String, key: String) throws {
        let keys = TicketKeyRing()
        tlsContext = try TLSContextFactory.server(TLSServerSettings(certificatePath: certificate, privateKeyPath: key,
                                                                    ticketKeys: keys))
        ticketKeys = keys  // the context's ticket callback reads them
    }

    /// Every request received, over all connections, in the order the connections opened.
    var allRequests: [String] { connections.flatMap(\.requestTexts) }

    func drive(_ engine: inout Engine<VirtualPort>, now: Instant, scratch: UnsafeMutableRawBufferPointer) {
        while let id = engine.accept(listener) {
            connections.append(Connection(id: id, tls: tlsContext.map { TLSTestPeer(serverContext: $0) }))
        }
        for connection in connections where !connection.closed {
            while reads {
                guard let count = try? engine.read(connection.id, into: scratch, now: now) else { break }
                if count == 0 {
                    connection.sawEndOfStream = true
                    break
                }
                if connection.tls == nil {
                    connection.received += scratch[0..<count]
                } else {
                    connection.ciphertextIn += scratch[0..<count]
                }
            }
            connection.pumpTLS()
            if connection.sawEndOfStream && (!echoesAfterFirstRequest || connection.isFlushed) {
                close(connection, &engine, now: now)
                continue
            }
            split(connection)
            if (closesWithoutAnswer && !connection.requests.isEmpty) || connection.requests.count > answersPerConnection {
                close(connection, &engine, now: now)
                continue
            }
            connection.pumpTLS()
            if let extra = recordAfterResponse, connection.tls != nil,
               connection.recordsAfterResponses < connection.requests.count {
                // The response went into its records above: these bytes make one more.
                connection.recordsAfterResponses += 1
                let responseEnd = connection.ciphertextOut.count
                connection.pending += extra
                connection.pumpTLS()
                if cutsRecordAfterResponse { connection.ciphertextOut.removeSubrange((responseEnd + 8)...) }
            }
            if write(connection, &engine) {
                // After a response (over TLS, handshake messages go before any).
                if connection.isFlushed && closesAfterResponse && !connection.requests.isEmpty && !connection.closed {
                    close(connection, &engine, now: now)
                }
            }
        }
    }

    /// Writes what the connection has for the engine; false when nothing went.
    @discardableResult
    private func write(_ connection: Connection, _ engine: inout Engine<VirtualPort>) -> Bool {
        let wire = connection.wire
        guard !connection[keyPath: wire].isEmpty,
              let count = connection[keyPath: wire].withUnsafeBytes({ try? engine.write(connection.id, $0) }) else {
            return false
        }
        connection[keyPath: wire].removeFirst(count)
        return true
    }

    /// Closes the connection, over TLS with close_notify first unless `omitsCloseNotify`.
    private func close(_ connection: Connection, _ engine: inout Engine<VirtualPort>, now: Instant) {
        if let tls = connection.tls, !omitsCloseNotify, tls.isEstablished {
            tls.closeNotify()
            connection.pumpTLS()
            write(connection, &engine)
        }
        engine.close(connection.id, now: now)
        connection.closed = true
    }

    /// Answers the oldest request held; false when none is.
    @discardableResult
    func answerNext() -> Bool {
        guard !held.isEmpty else { return false }
        held.removeFirst().pending += response
        return true
    }

    /// Finds the requests complete in what the connection received.
    private func split(_ connection: Connection) {
        while connection.requestStart < connection.received.count {
            let start = connection.requestStart
            if echoesAfterFirstRequest && !connection.requests.isEmpty {
                connection.pending += connection.received[start...]
                connection.requestStart = connection.received.count
                return
            }
            if connection.head == nil {
                let complete = connection.received[start...].withUnsafeBytes { try? connection.parser.parse($0) }
                guard complete == true else { return }
                let head = connection.parser.head
                connection.head = head
                switch head.body {
                case .none: connection.bodyLeft = 0
                case .contentLength(let length): connection.bodyLeft = length
                case .chunked: connection.chunks = HTTPChunkedDecoder()
                }
                if answersBeforeBody { connection.pending += response }
            }
            guard let head = connection.head else { return }
            var end = start + head.headLength
            if var chunks = connection.chunks {
                // The decoder hands back one piece a call; from the body's start each time.
                while !chunks.isComplete {
                    guard let output = connection.received[end...].withUnsafeBytes({ try? chunks.decode($0) }),
                          output.consumed > 0 || output.isComplete else { return }
                    end += output.consumed
                }
            } else {
                end += connection.bodyLeft
                guard end <= connection.received.count else { return }
            }
            connection.requests.append(Array(connection.received[start..<end]))
            if holdsAnswers {
                held.append(connection)
            } else if !answersBeforeBody && !closesWithoutAnswer && connection.requests.count <= answersPerConnection {
                connection.pending += response
            }
            connection.requestStart = end
            connection.head = nil
            connection.chunks = nil
            connection.parser.reset()
        }
    }
}
