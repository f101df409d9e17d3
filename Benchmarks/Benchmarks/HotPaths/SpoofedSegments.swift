import Benchmark
import MTCP

/// What a spoofed segment costs the engine (issue 25): one frame through
/// `poll` and `flush`, the answer built and handed to the device, for each kind
/// of segment an off-path attacker can send. The device replays the same frame
/// and recycles what the engine sends, so only the engine is measured. Each
/// benchmark checks afterwards that the engine took the path it is named after.
func spoofedSegmentBenchmarks() {
    Benchmark("Spoofed in-window RST, challenge ACK sent") { benchmark in
        var target = SpoofTarget()
        let next = target.establish()
        target.offer(.rst, seq: next &+ 100)
        target.measure(benchmark, step: .milliseconds(500))
        target.expect(\.challengeAcksSent, sent: true)
    }

    Benchmark("Spoofed in-window RST, challenge ACK suppressed") { benchmark in
        var target = SpoofTarget()
        let next = target.establish()
        target.offer(.rst, seq: next &+ 100)
        target.run()  // the one answer the limit allows
        target.measure(benchmark, step: .zero)
        target.expect(\.challengeAcksSuppressed, sent: false)
    }

    // A bare segment dropped as out of window is answered at most once per
    // challenge-ACK interval (as Linux's tcp_invalid_ratelimit), so both sides
    // of that limit are timed, as for the RST.
    Benchmark("Spoofed out-of-window ACK, answered with an ACK") { benchmark in
        var target = SpoofTarget()
        let next = target.establish()
        target.offer(.ack, seq: next &+ 1_000_000, ack: target.ourNext)
        target.measure(benchmark, step: .milliseconds(500))
        target.expect(\.outOfWindow, sent: true)
    }

    Benchmark("Spoofed out-of-window ACK, answer suppressed") { benchmark in
        var target = SpoofTarget()
        let next = target.establish()
        target.offer(.ack, seq: next &+ 1_000_000, ack: target.ourNext)
        target.run()  // the one answer the limit allows
        target.measure(benchmark, step: .zero)
        target.expect(\.droppedSegmentAcksSuppressed, sent: false)
    }

    Benchmark("Spoofed cookie-shaped ACK, no recent SYN-queue overflow (reset)") { benchmark in
        var target = SpoofTarget()
        target.offer(.ack, seq: 7_000, ack: 123_456_789, sourcePort: 50_000)
        target.measure(benchmark, step: .zero)
        target.expect(\.resetsSent, sent: true)
        precondition(target.engine.tcpStatistics.synCookiesChecked == 0, "no cookie check without an overflow")
    }

    Benchmark("Spoofed SYN to a closed port (reset)") { benchmark in
        var target = SpoofTarget()
        target.offer(.syn, seq: 7_000, destinationPort: 81)
        target.measure(benchmark, step: .zero)
        target.expect(\.resetsSent, sent: true)
    }
}

/// An engine listening on port 80, fed by a `ReplayDevice`.
struct SpoofTarget: ~Copyable {
    static let ourAddress = IPv4Address(198, 18, 0, 1)
    static let peerAddress = IPv4Address(198, 18, 0, 2)
    static let ourMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let peerMAC = MACAddress(0x02, 0, 0, 0, 0, 0x02)
    static let peerISN: UInt32 = 1_000
    static let peerPort: UInt16 = 40_000

    var engine: Engine<ReplayDevice>
    var now = Instant.zero
    /// The engine's SND.NXT once established: what an honest peer acknowledges.
    private(set) var ourNext: UInt32 = 0
    /// The counters and frames sent when the measurement began, and its length.
    private var before = TCPStatistics()
    private var sentBefore = 0
    private var iterations = 0

    init() {
        var tcp = TCPConfiguration(maxConnections: 64, maxBuffers: 64)
        tcp.idleTimeout = nil  // time moves in 500 ms steps: nothing may time out meanwhile
        engine = Engine(device: ReplayDevice(macAddress: Self.ourMAC),
                        configuration: EngineConfiguration(
                            address: IPv4Network(address: Self.ourAddress, prefixLength: 24),
                            staticNeighbours: [.init(address: Self.peerAddress, mac: Self.peerMAC)], tcp: tcp))
        _ = try! engine.listen(port: 80)
    }

    // Buffers the engine still holds are in the device's storage: freed with it.
    deinit { engine.device.deallocate() }

    /// The handshake from `peerPort`; returns the engine's RCV.NXT, the
    /// sequence number it expects next from the peer.
    mutating func establish() -> UInt32 {
        offer(.syn, seq: Self.peerISN)
        run()
        guard let synAck = engine.device.lastSent, synAck.flags == [.syn, .ack] else { fatalError("no SYN-ACK") }
        ourNext = synAck.sequenceNumber &+ 1
        offer(.ack, seq: Self.peerISN &+ 1, ack: ourNext)
        run()
        precondition(engine.tcpStatistics.established == 1, "the handshake did not complete")
        return Self.peerISN &+ 1
    }

    /// Sets the frame the device offers on every poll from now on.
    mutating func offer(_ flags: TCPFlags, seq: UInt32, ack: UInt32? = nil, sourcePort: UInt16 = peerPort,
                        destinationPort: UInt16 = 80) {
        let header = TCPRepr(sourcePort: sourcePort, destinationPort: destinationPort, sequenceNumber: seq,
                             acknowledgmentNumber: ack, flags: flags, window: 65_535,
                             options: TCPOptions(maximumSegmentSize: flags.contains(.syn) ? 1460 : nil),
                             payloadLength: 0)
        let ip = IPv4Repr(source: Self.peerAddress, destination: Self.ourAddress, protocol: .tcp,
                          payloadLength: header.bufferLength)
        engine.device.setOffered(length: EthernetFrame.headerLength + ip.bufferLength) { frame in
            EthernetRepr(source: Self.peerMAC, destination: Self.ourMAC, etherType: .ipv4)
                .emit(into: EthernetFrame(unchecked: frame))
            let packet = IPv4Packet(unchecked: EthernetFrame(unchecked: frame).payload)
            ip.emit(into: packet)
            let segment = TCPSegment(unchecked: packet.payload)
            header.emit(into: segment)
            segment.fillChecksum(source: Self.peerAddress, destination: Self.ourAddress)
        }
    }

    /// One iteration of the engine's loop with the offered frame.
    mutating func run() {
        engine.poll(now: now)
        engine.flush(now: now)
    }

    /// Times `scaledIterations` segments, the clock advanced by `step` before each.
    mutating func measure(_ benchmark: Benchmark, step: TimeSpan) {
        before = engine.tcpStatistics
        sentBefore = engine.device.sentCount
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            now = now + step
            run()
        }
        benchmark.stopMeasurement()
        iterations = benchmark.scaledIterations.count
    }

    /// The counter `path` grew by one per segment, and each segment was (or was not) answered.
    func expect(_ path: KeyPath<TCPStatistics, UInt64>, sent: Bool) {
        let counted = engine.tcpStatistics[keyPath: path] - before[keyPath: path]
        precondition(counted == UInt64(iterations), "\(path): \(counted) of \(iterations) segments")
        let answers = engine.device.sentCount - sentBefore
        precondition(answers == (sent ? iterations : 0), "\(answers) answers to \(iterations) segments")
    }
}

/// Offers one frame (a copy of `offered`) on every receive and takes back all
/// that is sent, remembering where the last one was: an engine's cost without a
/// link's. Its buffers are allocated once.
struct ReplayDevice: PacketDevice {
    static let bufferSize = 2048
    static let bufferCount = 16

    let macAddress: MACAddress
    let transmitOffloads: ChecksumOffload = []
    private let storage: UnsafeMutableRawBufferPointer
    private let freeList: UnsafeMutableBufferPointer<Int>
    private var freeCount = Self.bufferCount
    private let offered: UnsafeMutableRawBufferPointer
    private var offeredLength = 0
    private(set) var sentCount = 0
    private var lastSentFrame = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// The TCP header of the last frame sent, read before its buffer is used again.
    var lastSent: TCPRepr? {
        guard let packet = try? IPv4Packet(checking: EthernetFrame(unchecked: lastSentFrame).payload),
              let segment = try? TCPSegment(checking: packet.payload) else { return nil }
        return try? TCPRepr.parse(segment)
    }

    init(macAddress: MACAddress) {
        self.macAddress = macAddress
        storage = .allocate(byteCount: Self.bufferSize * Self.bufferCount, alignment: 64)
        freeList = .allocate(capacity: Self.bufferCount)
        for index in 0..<Self.bufferCount { freeList[index] = index }
        offered = .allocate(byteCount: Self.bufferSize, alignment: 64)
    }

    func deallocate() {
        storage.deallocate()
        freeList.deallocate()
        offered.deallocate()
    }

    mutating func setOffered(length: Int, _ build: (UnsafeMutableRawBufferPointer) -> Void) {
        offeredLength = length
        build(UnsafeMutableRawBufferPointer(rebasing: offered[0..<length]))
    }

    mutating func receive(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        guard offeredLength > 0, buffers.count > 0, var buffer = allocate() else { return 0 }
        buffer.bytes.copyMemory(from: offered.baseAddress!, byteCount: offeredLength)
        buffer.length = offeredLength
        buffers[0] = buffer
        return 1
    }

    mutating func allocate() -> PacketBuffer? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        let base = storage.baseAddress! + freeList[freeCount] * Self.bufferSize
        return PacketBuffer(handle: base, bytes: base, length: 0, capacity: Self.bufferSize)
    }

    mutating func transmit(_ buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        for buffer in buffers {
            lastSentFrame = buffer.frame
            sentCount += 1
            release(buffer)
        }
        return buffers.count
    }

    mutating func release(_ buffer: PacketBuffer) {
        freeList[freeCount] = (buffer.handle - UnsafeMutableRawPointer(storage.baseAddress!)) / Self.bufferSize
        freeCount += 1
    }

    func statistics() -> DeviceStatistics { DeviceStatistics() }
}
