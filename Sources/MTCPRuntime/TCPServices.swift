import MTCP

/// The echo (RFC 862) and discard (RFC 863) services over the stack's TCP, for
/// interoperability tests with kernel clients before (and beside) the HTTP server.
///
/// Echo never reads more than it can write back at once, so a client that does
/// not read its echoes stalls only itself (backpressure), and nothing is lost.
public struct TCPServices: EngineApplication, ~Copyable {
    public let echoPort: UInt16?
    public let discardPort: UInt16?
    private var listeners: [(ListenerID, discard: Bool)] = []
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 64)

    public init(echoPort: UInt16?, discardPort: UInt16?) {
        self.echoPort = echoPort
        self.discardPort = discardPort
    }

    public mutating func start<Device: PacketDevice>(_ engine: inout Engine<Device>) throws {
        if let echoPort { listeners.append((try engine.listen(port: echoPort), false)) }
        if let discardPort { listeners.append((try engine.listen(port: discardPort), true)) }
    }

    deinit { scratch.deallocate() }

    /// Takes this iteration's events: new connections and data to echo or discard.
    public mutating func handle<Device: PacketDevice>(_ engine: inout Engine<Device>, now: Instant) {
        for (listener, _) in listeners {
            // New connections get a `.writable` event of their own, handled below.
            while engine.accept(listener) != nil {}
        }
        while let (connection, events) = engine.nextEvent() {
            if events.isDisjoint(with: [.closed, .error]) {
                serve(connection, &engine, now: now)
            } else {
                engine.close(connection, now: now)
            }
        }
    }

    private func serve<Device: PacketDevice>(_ connection: ConnectionID, _ engine: inout Engine<Device>,
                                             now: Instant) {
        let discard = engine.endpoints(of: connection)?.localPort == discardPort
        while true {
            let room = discard ? scratch.count : min(scratch.count, engine.writableBytes(connection))
            guard room > 0 else { return }  // wait for `.writable`
            let read: Int
            do {
                read = try engine.read(connection, into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<room]),
                                       now: now)
            } catch .wouldBlock {
                return
            } catch {
                return engine.close(connection, now: now)
            }
            guard read > 0 else { return engine.close(connection, now: now) }  // end of stream
            if !discard {
                _ = try? engine.write(connection, UnsafeRawBufferPointer(rebasing: scratch[0..<read]))
            }
        }
    }
}
