import Glibc
import MTCP

/// The echo (RFC 862), discard (RFC 863) and daytime (RFC 867) services over the
/// stack's sockets, for interoperability tests with kernel clients beside the
/// HTTP server, and the smallest example of the socket and event API.
///
/// Daytime is the one service that closes first: it writes the date and closes,
/// so the stack performs the active close (FIN-WAIT-1/2, CLOSING, TIME-WAIT),
/// which the conformance tests need to reach those states.
///
/// Echo never reads more than it can write back at once, so a client that does
/// not read its echoes stalls only itself (backpressure), and nothing is lost.
public struct TCPServices<Device: PacketDevice>: EngineApplication, ~Copyable {
    public let echoPort: UInt16?
    public let discardPort: UInt16?
    public let daytimePort: UInt16?
    private var poll: EventPoll?
    private var listeners: [Socket] = []
    private let events = UnsafeMutableBufferPointer<EventPollEvent>.allocate(capacity: 256)
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 64)

    public init(echoPort: UInt16?, discardPort: UInt16?, daytimePort: UInt16? = nil) {
        self.echoPort = echoPort
        self.discardPort = discardPort
        self.daytimePort = daytimePort
    }

    deinit {
        events.deallocate()
        scratch.deallocate()
    }

    public mutating func start(_ context: inout SocketContext<Device>) throws {
        // With both services off there is nothing to wait for in `handle`.
        guard echoPort != nil || discardPort != nil else { return }
        let poll = try context.createEventPoll()
        self.poll = poll
        for port in [echoPort, discardPort, daytimePort] {
            guard let port else { continue }
            let listener = try context.socket()
            try context.bind(listener, port: port)
            try context.listen(listener)
            try context.control(poll, .add, listener, events: .input, data: listener.rawValue)
            listeners.append(listener)
        }
    }

    /// Takes this iteration's events: new connections and data to echo or discard.
    public mutating func handle(_ context: inout SocketContext<Device>) {
        guard let poll else { return }
        // A second round serves connections accepted in the first, whose
        // requests often arrived with the handshake's ACK: answering now lets the
        // reply carry the ACK instead of a bare ACK going out first.
        for _ in 0..<2 { serveReady(poll, &context) }
    }

    private func serveReady(_ poll: EventPoll, _ context: inout SocketContext<Device>) {
        let count = context.wait(poll, into: events)
        for event in events[0..<count] {
            let socket = Socket(rawValue: event.data)
            if listeners.contains(socket) {
                acceptAll(socket, poll, &context)
            } else if event.events.contains(.error) {
                try? context.close(socket)
            } else {
                serve(socket, discard: (try? context.localAddress(of: socket).port) == discardPort, &context)
            }
        }
    }

    private func acceptAll(_ listener: Socket, _ poll: EventPoll,
                           _ context: inout SocketContext<Device>) {
        let daytime = daytimePort != nil && (try? context.localAddress(of: listener).port) == daytimePort
        while let socket = try? context.accept(listener) {
            if daytime {
                sendDaytime(socket, &context)
                continue
            }
            // Edge-triggered: new bytes, or room for an echo that had to wait.
            try? context.control(poll, .add, socket, events: [.input, .output, .edgeTriggered], data: socket.rawValue)
        }
    }

    /// RFC 867: the date and time as one ASCII line, then close (our FIN follows the line).
    private func sendDaytime(_ socket: Socket, _ context: inout SocketContext<Device>) {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var text = [CChar](repeating: 0, count: 64)
        let length = strftime(&text, text.count, "%A, %B %d, %Y %H:%M:%S-UTC\r\n", &parts)
        text.withUnsafeBytes { bytes in
            _ = try? context.write(socket, UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
        }
        try? context.close(socket)
    }

    private func serve(_ socket: Socket, discard: Bool, _ context: inout SocketContext<Device>) {
        while true {
            let room = discard ? scratch.count : min(scratch.count, context.writableBytes(socket))
            guard room > 0 else { return }  // wait for `.output`
            let read: Int
            do {
                read = try context.read(socket, into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<room]))
            } catch .wouldBlock {
                return
            } catch {
                try? context.close(socket)
                return
            }
            guard read > 0 else {  // end of stream
                try? context.close(socket)
                return
            }
            if !discard { _ = try? context.write(socket, UnsafeRawBufferPointer(rebasing: scratch[0..<read])) }
        }
    }
}
