@testable import MTCP

/// One `TCPConnection` on its own, in the manner of smoltcp's socket tests: no
/// engine, no device, no frames. Segments go in as fields with an explicit time;
/// what the connection sends comes back as fields. `output()` plays the engine's
/// part for this one connection (the control, ACK and data lists, in that order)
/// and `advance(to:)` its timer wheel, so a test sees exactly what the engine
/// would put on the wire. Like the engine's wheel, the harness follows a
/// deadline only when the connection asks for it (a timer bit in `requests`):
/// a deadline changed without asking never fires here either.
final class ConnectionUnderTest {
    /// Our initial send sequence number, and the peer's.
    static let ourISS: UInt32 = 10_000
    static let peerISS: UInt32 = 50_000
    /// Added to our TSvals; an echo not taken back by it looks 1.6e9 ms old.
    static let timestampOffset: UInt32 = 0x9E37_79B9
    static let tuple = FourTuple(localAddress: IPv4Address(10, 0, 0, 1), localPort: 80,
                                 remoteAddress: IPv4Address(10, 0, 0, 2), remotePort: 40_000)

    var connection: TCPConnection
    var environment: RecordingEnvironment
    private(set) var now = Instant.zero
    /// The connection ended (CLOSED) and asked to leave the flow table.
    private(set) var ended = false
    /// The deadlines the connection asked the engine to follow: the timer wheel's view.
    private var scheduled = ConnectionDeadlines()
    private let sendStorage: UnsafeMutableRawBufferPointer
    private let receiveStorage: UnsafeMutableRawBufferPointer

    init(_ configuration: TCPConfiguration = TCPConfiguration()) {
        sendStorage = .allocate(byteCount: configuration.sendBufferSize, alignment: 8)
        receiveStorage = .allocate(byteCount: configuration.receiveBufferSize, alignment: 8)
        environment = RecordingEnvironment(tcpConfiguration: configuration)
        connection = TCPConnection(generation: 1, slot: 0, inUse: true)
        connection.open(tuple: Self.tuple, initialSequence: SequenceNumber(Self.ourISS),
                        timestampOffset: Self.timestampOffset, sendStorage: sendStorage, receiveStorage: receiveStorage,
                        configuration: configuration, now: .zero)
    }

    deinit {
        sendStorage.deallocate()
        receiveStorage.deallocate()
    }

    // MARK: - Getting to a state

    /// SYN-SENT after an active open; our SYN is returned.
    @discardableResult
    static func synSent(_ configuration: TCPConfiguration = TCPConfiguration()) -> (ConnectionUnderTest, [Sent]) {
        let test = ConnectionUnderTest(configuration)
        test.connection.connect(now: test.now)
        return (test, test.output())
    }

    /// SYN-RECEIVED after the peer's SYN for a listener; our SYN-ACK is returned.
    @discardableResult
    static func synReceived(_ configuration: TCPConfiguration = TCPConfiguration(),
                            peerOptions: TCPOptions = TCPOptions(maximumSegmentSize: 1460),
                            peerWindow: Int = 65_535) -> (ConnectionUnderTest, [Sent]) {
        let test = ConnectionUnderTest(configuration)
        test.connection.acceptSYN(test.segment(.syn, seq: peerISS, window: peerWindow, options: peerOptions),
                                  listener: 0, configuration: configuration, now: test.now)
        return (test, test.output())
    }

    /// ESTABLISHED by a passive open, accepted by the application (so it gets
    /// events). Sequence numbers: ours from `ourISS + 1`, the peer's from `peerISS + 1`.
    static func established(_ configuration: TCPConfiguration = TCPConfiguration(),
                            peerOptions: TCPOptions = TCPOptions(maximumSegmentSize: 1460),
                            peerWindow: Int = 65_535) -> ConnectionUnderTest {
        let (test, _) = synReceived(configuration, peerOptions: peerOptions, peerWindow: peerWindow)
        _ = test.receive(.ack, seq: peerISS + 1, ack: ourISS + 1, window: peerWindow)
        test.connection.listener = -1
        test.connection.ownedByApplication = true
        test.connection.pendingEvents = []
        return test
    }

    // MARK: - Driving it

    func segment(_ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, window: Int = 65_535,
                 options: TCPOptions = TCPOptions(), payload: UnsafeMutableRawBufferPointer = .init(start: nil, count: 0))
        -> IncomingSegment {
        IncomingSegment(sequence: SequenceNumber(seq), acknowledgment: SequenceNumber(ack), flags: flags,
                        window: window, options: options, payload: payload)
    }

    /// The peer's segment arrives now; returns what the connection sends in reply
    /// (at once, and from the lists when the engine flushes).
    func receive(_ flags: TCPFlags, seq: UInt32, ack: UInt32 = 0, window: Int = 65_535,
                 options: TCPOptions = TCPOptions(), payload: [UInt8] = []) -> [Sent] {
        var bytes = payload
        bytes.withUnsafeMutableBytes { raw in
            connection.process(segment(flags, seq: seq, ack: ack, window: window, options: options, payload: raw),
                               now: now, &environment)
        }
        return output()
    }

    /// The peer's data segments arrive in one burst (one engine iteration):
    /// returns what the connection sends meanwhile and at the flush after them.
    func receiveBurst(_ segments: [(seq: UInt32, payload: [UInt8])], ack: UInt32) -> [Sent] {
        for (seq, payload) in segments {
            var bytes = payload
            bytes.withUnsafeMutableBytes { raw in
                connection.process(segment(.ack, seq: seq, ack: ack, payload: raw), now: now, &environment)
            }
        }
        return output()
    }

    /// The application writes; returns what goes out at the next flush.
    func write(_ bytes: [UInt8]) throws(SocketError) -> Int {
        let threshold = environment.tcpConfiguration.shortFlowThreshold
        return try bytes.withUnsafeBytes { raw in
            Result { () throws(SocketError) in try connection.write(raw, shortFlowThreshold: threshold) }
        }.get()
    }

    /// The application reads up to `count` bytes.
    func read(_ count: Int) throws(SocketError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = try bytes.withUnsafeMutableBytes { raw in
            Result { () throws(SocketError) in try connection.read(into: raw) }
        }.get()
        return Array(bytes.prefix(read))
    }

    func close() -> [Sent] {
        connection.close(now: now, &environment)
        return output()
    }

    /// Time passes to `instant`; every timer due by then fires, earliest first.
    /// Returns what was sent meanwhile.
    func advance(to instant: Instant) -> [Sent] {
        now = instant
        var sent: [Sent] = []
        followDeadlines()
        while let (timer, _) = TCPTimer.allCases.compactMap({ timer in
            scheduled[timer].map { (timer, $0) }
        }).filter({ $0.1 <= instant }).min(by: { $0.1 < $1.1 }) {
            scheduled[timer] = nil
            connection.deadlines[timer] = nil
            connection.timerExpired(timer, now: now, &environment)
            sent += output()
        }
        return sent + output()
    }

    func advance(by span: TimeSpan) -> [Sent] { advance(to: now + span) }

    /// What the engine's flush sends for this connection: its SYN or SYN-ACK, a
    /// pure ACK unless data about to go out carries it, then data. Segments sent
    /// at once during the last call come first.
    func output() -> [Sent] {
        followDeadlines()
        let requests = connection.requests
        connection.requests = []
        if requests.contains(.ended) { ended = true }
        if requests.contains(.control) {
            let flags = connection.controlToSend
            connection.controlToSend = []
            _ = connection.sendControl(flags, now: now, &environment)
        }
        let wantsData = !requests.isDisjoint(with: [.shortData, .bulkData])
        if requests.contains(.ack), connection.ackPending, !(wantsData && connection.canSendData) {
            connection.sendPureAck(now: now, &environment)
        }
        if wantsData { _ = connection.sendData(now: now, &environment) }
        followDeadlines()
        connection.requests.subtract([.control, .ack, .shortData, .bulkData, .events])
        return environment.takeSent()
    }

    /// What the engine's `followDeadlines` does: the timers the connection asked
    /// for take their deadlines; the others keep what they had.
    private func followDeadlines() {
        for timer in TCPTimer.allCases where connection.requests.contains(.timer(timer)) {
            scheduled[timer] = connection.deadlines[timer]
        }
        connection.requests.subtract(.allTimers)
    }
}

/// A segment as the connection asked for it to be sent.
struct Sent: Equatable, CustomStringConvertible {
    var flags: TCPFlags
    var sequence: UInt32
    var acknowledgment: UInt32?
    var window: UInt16
    var options: TCPOptions
    var payload: [UInt8]

    var description: String {
        "[\(flags.rawValue)] seq=\(sequence) ack=\(acknowledgment.map(String.init) ?? "-") win=\(window) len=\(payload.count)"
    }
}

/// Records what a connection sends, and answers its questions as a test sets.
struct RecordingEnvironment: TCPConnectionEnvironment {
    var tcpConfiguration: TCPConfiguration
    var connectionStatistics = TCPStatistics()
    private var sent: [Sent] = []
    /// Packet buffers left: a segment beyond them fails to send, as when the
    /// device's pool is empty.
    var buffersLeft = Int.max
    /// Whether the listener's accept queue takes a completed passive open.
    var acceptQueueHasRoom = true
    private(set) var admitted: [ConnectionID] = []

    init(tcpConfiguration: TCPConfiguration) { self.tcpConfiguration = tcpConfiguration }

    mutating func transmit(_ segment: OutgoingSegment, now: Instant) -> Bool {
        guard buffersLeft > 0 else { return false }
        buffersLeft -= 1
        var payload = [UInt8](repeating: 0, count: segment.payloadLength)
        if segment.payloadLength > 0 {
            payload.withUnsafeMutableBytes {
                segment.payloadSource!.pointee.copy(from: segment.payloadOffset, count: segment.payloadLength,
                                                    into: $0.baseAddress!)
            }
        }
        sent.append(Sent(flags: segment.flags, sequence: segment.sequence.rawValue,
                         acknowledgment: segment.acknowledgment?.rawValue, window: segment.window,
                         options: segment.options, payload: payload))
        return true
    }

    mutating func admitToAcceptQueue(_ connection: ConnectionID, listener: Int32) -> AcceptAdmission {
        guard acceptQueueHasRoom else { return .queueFull }
        admitted.append(connection)
        return .admitted
    }

    mutating func takeSent() -> [Sent] {
        defer { sent = [] }
        return sent
    }
}
