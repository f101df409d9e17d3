@testable import MTCP
import MTCPServices

/// A server engine running the echo/discard services and a client engine driven
/// by the test, on one virtual link, with time advanced explicitly.
struct TCPTestNetwork: ~Copyable {
    static let serverMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let clientMAC = MACAddress(0x02, 0, 0, 0, 0, 0x03)
    static let serverIP = IPv4Address(198, 18, 0, 1)
    static let clientIP = IPv4Address(198, 18, 0, 3)

    /// Pools for a few hundred connections, not mTCP's 10,000 (which zeroes 160 MB).
    static func smallTCP(receiveBufferSize: Int = 8192, sendBufferSize: Int = 8192,
                         idleTimeout: TimeSpan? = .seconds(30)) -> TCPConfiguration {
        TCPConfiguration(maxConnections: 512, maxBuffers: 512, receiveBufferSize: receiveBufferSize,
                         sendBufferSize: sendBufferSize, idleTimeout: idleTimeout)
    }

    let link: VirtualLink
    var server: SocketContext<VirtualPort>
    var client: Engine<VirtualPort>
    var services: TCPServices<VirtualPort>

    init(seed: UInt64 = 1, impairments: VirtualLink.Impairments = .none,
         server serverTCP: TCPConfiguration = Self.smallTCP(),
         client clientTCP: TCPConfiguration = Self.smallTCP(), buffers: Int = 4096) {
        link = VirtualLink(seed: seed, impairments: impairments)
        func configuration(_ ip: IPv4Address, peer: IPv4Address, peerMAC: MACAddress,
                           _ tcp: TCPConfiguration) -> EngineConfiguration {
            EngineConfiguration(address: IPv4Network(address: ip, prefixLength: 24),
                                staticNeighbours: [.init(address: peer, mac: peerMAC)], tcp: tcp,
                                secret: SipHash(key0: seed, key1: ~seed))
        }
        server = SocketContext(engine: Engine(
            device: link.makePort(macAddress: Self.serverMAC, bufferCount: buffers),
            configuration: configuration(Self.serverIP, peer: Self.clientIP, peerMAC: Self.clientMAC, serverTCP)))
        client = Engine(device: link.makePort(macAddress: Self.clientMAC, bufferCount: buffers),
                        configuration: configuration(Self.clientIP, peer: Self.serverIP, peerMAC: Self.serverMAC,
                                                     clientTCP))
        services = TCPServices(echoPort: 7, discardPort: 9)
        try! services.start(&server)
    }

    /// One round: the server runs its services, the client runs `clientApp`, then
    /// time moves on by `tick`.
    mutating func round(tick: TimeSpan = .milliseconds(1),
                        _ clientApp: (inout Engine<VirtualPort>, Instant) -> Void = { _, _ in }) {
        let now = link.now
        server.poll(now: now)
        services.handle(&server)
        server.flush()
        client.poll(now: now)
        clientApp(&client, now)
        client.flush(now: now)
        link.now = now + tick
    }
}

/// One client connection of a test: what it sends, what came back.
final class EchoExchange {
    let payload: [UInt8]
    var id: ConnectionID?
    var written = 0
    var received: [UInt8] = []
    var sawEndOfStream = false
    var error: SocketError?
    var closed = false

    init(payload: [UInt8]) { self.payload = payload }

    var isComplete: Bool { closed && error == nil }

    /// Writes what fits, half-closes once all is written, reads what arrived.
    func drive(_ engine: inout Engine<VirtualPort>, now: Instant, scratch: UnsafeMutableRawBufferPointer) {
        guard let id, !closed else { return }
        if written < payload.count, let count = payload.withUnsafeBytes({ bytes in
            try? engine.write(id, UnsafeRawBufferPointer(rebasing: bytes[written...]))
        }) {
            written += count
            if written == payload.count { try? engine.shutdownWrite(id) }
        }
        if written == payload.count && payload.isEmpty { try? engine.shutdownWrite(id) }
        while true {
            do {
                let count = try engine.read(id, into: scratch, now: now)
                if count == 0 {
                    sawEndOfStream = true
                    engine.close(id, now: now)
                    closed = true
                    return
                }
                received += scratch[0..<count]
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
}

/// Deterministic test bytes.
func seededBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var random = SeededRandom(seed: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        let word = random.next()
        for shift in stride(from: 0, to: 64, by: 8) where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: word >> UInt64(shift))
            index += 1
        }
    }
    return bytes
}
