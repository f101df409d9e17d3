@testable import MTCP

/// A hand-driven peer for state-by-state tests: it sends segments built from
/// templates to an engine over the virtual link and returns what the engine
/// answers, decoded. Time is explicit.
struct RawTCPPeer: ~Copyable {
    static let engineIP = IPv4Address(198, 18, 0, 1)
    static let peerIP = IPv4Address(198, 18, 0, 2)
    static let engineMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let peerMAC = MACAddress(0x02, 0, 0, 0, 0, 0x02)

    let link = VirtualLink(seed: 1)
    var engine: Engine<VirtualPort>
    var port: VirtualPort
    var peerPort: UInt16 = 40000
    let batch = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 64)
    /// What the engine sent, decoded, oldest first.
    struct Reply {
        var header: TCPRepr
        var payload: [UInt8]
        var flags: TCPFlags { header.flags }
        var sequence: UInt32 { header.sequenceNumber }
        var acknowledgment: UInt32? { header.acknowledgmentNumber }
        /// Time on an Ethernet line: padded to 60 bytes, plus FCS, preamble, SFD and gap.
        var wireBytes: Int {
            max(EthernetFrame.headerLength + 20 + header.headerLength + payload.count, 60) + 24
        }
    }

    /// Small pools by default: a test needs a few connections, not mTCP's 10,000.
    /// - Parameter start: the clock's value when the engine starts (its uptime).
    /// - Parameter transmitRateMbps: the engine's shaped line rate (0: none).
    init(tcp: TCPConfiguration = TCPConfiguration(maxConnections: 64, maxBuffers: 64), start: Instant = .zero,
         transmitRateMbps: UInt64 = 0) {
        link.now = start
        engine = Engine(device: link.makePort(macAddress: Self.engineMAC, bufferCount: 512),
                        configuration: EngineConfiguration(
                            address: IPv4Network(address: Self.engineIP, prefixLength: 24),
                            staticNeighbours: [.init(address: Self.peerIP, mac: Self.peerMAC)],
                            transmitRateMbps: transmitRateMbps, tcp: tcp),
                        now: start)
        port = link.makePort(macAddress: Self.peerMAC, bufferCount: 512)
    }

    deinit { batch.deallocate() }

    var now: Instant { link.now }

    mutating func advance(_ span: TimeSpan) { link.now = link.now + span }

    /// Sends one segment from the peer to `engineIP:destinationPort`, then lets the
    /// engine run one iteration; returns what it sent back.
    @discardableResult
    mutating func send(_ flags: TCPFlags, seq: UInt32, ack: UInt32? = nil, to destinationPort: UInt16 = 80,
                       window: UInt16 = 65535, options: TCPOptions = TCPOptions(),
                       payload: [UInt8] = []) -> [Reply] {
        inject(flags, seq: seq, ack: ack, to: destinationPort, window: window, options: options, payload: payload)
        return run()
    }

    /// Puts one segment from the peer on the link without running the engine
    /// (a test then drives `poll`, the application and `flush` itself).
    mutating func inject(_ flags: TCPFlags, seq: UInt32, ack: UInt32? = nil, to destinationPort: UInt16 = 80,
                         window: UInt16 = 65535, options: TCPOptions = TCPOptions(), payload: [UInt8] = []) {
        let header = TCPRepr(sourcePort: peerPort, destinationPort: destinationPort, sequenceNumber: seq,
                             acknowledgmentNumber: ack, flags: flags, window: window, options: options,
                             payloadLength: payload.count)
        let ip = IPv4Repr(source: Self.peerIP, destination: Self.engineIP, protocol: .tcp,
                          payloadLength: header.bufferLength)
        var buffer = port.allocate()!
        buffer.length = EthernetFrame.headerLength + ip.bufferLength
        EthernetRepr(source: Self.peerMAC, destination: Self.engineMAC, etherType: .ipv4)
            .emit(into: EthernetFrame(unchecked: buffer.frame))
        let packet = IPv4Packet(unchecked: EthernetFrame(unchecked: buffer.frame).payload)
        ip.emit(into: packet)
        let segment = TCPSegment(unchecked: packet.payload)
        header.emit(into: segment)
        for (index, byte) in payload.enumerated() { segment.payload[index] = byte }
        segment.fillChecksum(source: Self.peerIP, destination: Self.engineIP)
        batch[0] = buffer
        _ = port.transmit(UnsafeMutableBufferPointer(rebasing: batch[0..<1]))
    }

    /// One engine iteration at the current time; returns the segments it sent.
    mutating func run() -> [Reply] {
        engine.poll(now: link.now)
        engine.flush(now: link.now)
        return collect()
    }

    /// Decodes everything the engine put on the link.
    mutating func collect() -> [Reply] {
        var replies: [Reply] = []
        while case let count = port.receive(into: batch), count > 0 {
            for index in 0..<count {
                defer { port.release(batch[index]) }
                guard let frame = try? EthernetFrame(checking: batch[index].frame), frame.etherType == .ipv4,
                      let packet = try? IPv4Packet(checking: frame.payload), packet.protocol == .tcp,
                      let segment = try? TCPSegment(checking: packet.payload),
                      segment.verifyChecksum(source: packet.source, destination: packet.destination),
                      let header = try? TCPRepr.parse(segment) else { continue }
                replies.append(Reply(header: header, payload: Array(segment.payload)))
            }
        }
        return replies
    }

    /// Performs the three-way handshake with a listener on `port`; returns the
    /// engine's ISN and the accepted connection.
    mutating func establish(port destination: UInt16 = 80, listener: ListenerID, peerISN: UInt32 = 1000,
                            options: TCPOptions = TCPOptions(maximumSegmentSize: 1460))
        -> (engineISN: UInt32, connection: ConnectionID)? {
        let synAck = send(.syn, seq: peerISN, to: destination, options: options)
        guard synAck.count == 1, synAck[0].flags == [.syn, .ack] else { return nil }
        let engineISN = synAck[0].sequence
        let replies = send(.ack, seq: peerISN + 1, ack: engineISN + 1, to: destination)
        guard replies.isEmpty, let connection = engine.accept(listener) else { return nil }
        return (engineISN, connection)
    }
}
