import Testing
@testable import MTCP

/// The exception path on the virtual link: an appliance engine on the "wire",
/// a peer injecting frames there, and a second link joining the engine's
/// kernel-side device to a port standing for the kernel's interface.
@Suite struct ExceptionPathTests {
    static let macA = EngineNetworkTests.macA
    static let macB = EngineNetworkTests.macB
    static let ipA = EngineNetworkTests.ipA
    static let ipB = EngineNetworkTests.ipB

    struct Rig: ~Copyable {
        let wire = VirtualLink(seed: 5)
        let kernelLink = VirtualLink(seed: 6)
        var appliance: Engine<VirtualPort>
        var peer: VirtualPort
        var kernel: VirtualPort

        /// - Parameter kept: nil: no exception path at all (today's behaviour).
        init(kept: KernelTraffic? = KernelTraffic(), listenOn ports: [UInt16] = [], kernelBuffers: Int = 64,
             configure: (inout EngineConfiguration) -> Void = { _ in }) {
            appliance = EngineNetworkTests.engine(wire, mac: ExceptionPathTests.macA, ip: ExceptionPathTests.ipA) {
                configuration in
                configuration.staticNeighbours = [.init(address: ExceptionPathTests.ipB, mac: ExceptionPathTests.macB)]
                configure(&configuration)
            }
            peer = wire.makePort(macAddress: ExceptionPathTests.macB, bufferCount: 64)
            kernel = kernelLink.makePort(macAddress: ExceptionPathTests.macA, bufferCount: 64)
            if let kept {
                appliance.attachExceptionPath(ExceptionPath(
                    device: kernelLink.makePort(macAddress: ExceptionPathTests.macA, bufferCount: kernelBuffers), kept: kept))
            }
            for port in ports { _ = try! appliance.tcp.listeners.add(port: port, backlog: 8) }
        }

        /// Sends `frame` from the peer and runs the appliance once.
        mutating func deliver(_ frame: [UInt8]) {
            EngineNetworkTests.inject(frame, from: &peer)
            step()
        }

        mutating func step() {
            appliance.step(now: wire.now)
            kernelLink.now = wire.now
        }

        /// Everything that reached the kernel's interface, and the peer.
        mutating func kernelFrames() -> [[UInt8]] { Self.drain(&kernel) }
        mutating func peerFrames() -> [[UInt8]] { Self.drain(&peer) }

        static func drain(_ port: inout VirtualPort) -> [[UInt8]] {
            var frames: [[UInt8]] = []
            while let frame = EngineNetworkTests.receiveOne(&port) { frames.append(frame) }
            return frames
        }
    }

    /// An IPv4 frame from the peer to `destination` with `payload` after the IP header.
    static func ipFrame(_ ipProtocol: IPProtocol, to destination: IPv4Address = ipA, payload: [UInt8]) -> [UInt8] {
        let ip = IPv4Repr(source: ipB, destination: destination, protocol: ipProtocol, payloadLength: payload.count)
        var bytes = [UInt8](repeating: 0, count: EthernetFrame.headerLength + ip.bufferLength)
        bytes.withUnsafeMutableBytes { raw in
            let frame = EthernetFrame(unchecked: raw)
            EthernetRepr(source: macB, destination: destination.isBroadcast ? .broadcast : macA, etherType: .ipv4)
                .emit(into: frame)
            let packet = IPv4Packet(unchecked: frame.payload)
            ip.emit(into: packet)
            for (index, byte) in payload.enumerated() { packet.payload[index] = byte }
        }
        return bytes
    }

    /// A UDP datagram (source port 5353, checksum 0: none) to `port`.
    static func udpFrame(to port: UInt16, to destination: IPv4Address = ipA) -> [UInt8] {
        let data: [UInt8] = Array("hello kernel".utf8)
        let length = UInt16(8 + data.count)
        return ipFrame(.udp, to: destination, payload: [0x14, 0xE9, UInt8(port >> 8), UInt8(port & 0xFF),
                                                        UInt8(length >> 8), UInt8(length & 0xFF), 0, 0] + data)
    }

    /// A TCP segment from the peer's port 40000 to `port`.
    static func tcpFrame(_ flags: TCPFlags, to port: UInt16, to destination: IPv4Address = ipA) -> [UInt8] {
        let header = TCPRepr(sourcePort: 40000, destinationPort: port, sequenceNumber: 1000,
                             acknowledgmentNumber: flags.contains(.ack) ? 1 : nil, flags: flags, window: 65535,
                             options: TCPOptions(), payloadLength: 0)
        var bytes = ipFrame(.tcp, to: destination, payload: [UInt8](repeating: 0, count: header.bufferLength))
        bytes.withUnsafeMutableBytes { raw in
            let segment = TCPSegment(unchecked: IPv4Packet(unchecked: EthernetFrame(unchecked: raw).payload).payload)
            header.emit(into: segment)
            segment.fillChecksum(source: ipB, destination: destination)
        }
        return bytes
    }

    static func tcpFlags(of frames: [[UInt8]]) -> [TCPFlags] {
        frames.compactMap { bytes in
            var copy = bytes
            return copy.withUnsafeMutableBytes { raw -> TCPFlags? in
                guard let frame = try? EthernetFrame(checking: raw), frame.etherType == .ipv4,
                      let packet = try? IPv4Packet(checking: frame.payload), packet.protocol == .tcp,
                      let segment = try? TCPSegment(checking: packet.payload) else { return nil }
                return segment.flags
            }
        }
    }

    @Test func udpGoesToTheKernelUnchangedAndIsDroppedWithoutAnExceptionPath() {
        let datagram = Self.udpFrame(to: 53)
        var rig = Rig()
        rig.deliver(datagram)
        #expect(rig.kernelFrames() == [datagram])
        #expect(rig.appliance.statistics.framesToKernel == 1)
        #expect(rig.appliance.statistics.bytesToKernel == UInt64(datagram.count))
        #expect(rig.appliance.statistics.drops.total == 0)

        var without = Rig(kept: nil)
        without.deliver(datagram)
        #expect(without.kernelFrames().isEmpty)
        #expect(without.appliance.statistics.drops[.ipv4UnsupportedProtocol] == 1)
    }

    @Test func tcpToAPortWithoutListenerIsTheKernelsAndTheStackSendsNoReset() {
        var rig = Rig(listenOn: [80])
        let ssh = Self.tcpFrame(.syn, to: 22)
        rig.deliver(ssh)
        #expect(rig.kernelFrames() == [ssh])
        #expect(rig.peerFrames().isEmpty, "the kernel answers, not the stack")
        #expect(rig.appliance.tcp.statistics.resetsSent == 0)
        // The kernel's later segments of that connection have no flow in the stack either.
        let sshAck = Self.tcpFrame(.ack, to: 22)
        rig.deliver(sshAck)
        #expect(rig.kernelFrames() == [sshAck])

        rig.deliver(Self.tcpFrame(.syn, to: 80))
        #expect(Self.tcpFlags(of: rig.peerFrames()) == [[.syn, .ack]], "served by the stack")
        #expect(rig.kernelFrames().isEmpty)

        var without = Rig(kept: nil, listenOn: [80])
        without.deliver(ssh)
        #expect(Self.tcpFlags(of: without.peerFrames()).map { $0.contains(.rst) } == [true], "today's answer: a reset")
    }

    @Test func aKeptTCPPortGoesToTheKernelEvenWithAListener() {
        var rig = Rig(kept: KernelTraffic(tcpPorts: [179]), listenOn: [179])
        let bgp = Self.tcpFrame(.syn, to: 179)
        rig.deliver(bgp)
        #expect(rig.kernelFrames() == [bgp])
        #expect(rig.peerFrames().isEmpty)
    }

    @Test func pingsAreTheStacksUnlessICMPIsKeptForTheKernel() {
        let ping = EngineNetworkTests.echoRequestFrame(dataLength: 8)
        var rig = Rig()
        rig.deliver(ping)
        #expect(rig.appliance.statistics.echoRepliesSent == 1)
        #expect(rig.kernelFrames().isEmpty)

        var kept = Rig(kept: KernelTraffic(protocols: [.icmp]))
        kept.deliver(ping)
        #expect(kept.appliance.statistics.echoRepliesSent == 0)
        #expect(kept.kernelFrames() == [ping])
    }

    @Test func arpIsAnsweredByTheStackAndCopiedToTheKernel() {
        let request = ARPFloodTests.request(from: Self.ipB, mac: Self.macB, for: Self.ipA)
        var rig = Rig()
        rig.deliver(request)
        #expect(rig.appliance.statistics.arpRepliesSent == 1)
        #expect(rig.peerFrames().count == 1, "the stack's reply")
        #expect(rig.kernelFrames() == [request], "so the kernel learns the same neighbour")
    }

    @Test func framesForTheKernelsOwnAddressAndBroadcastsReachIt() {
        var rig = Rig()
        let toKernelAddress = Self.udpFrame(to: 161, to: IPv4Address(198, 18, 0, 9))
        let broadcast = Self.udpFrame(to: 67, to: .broadcast)
        rig.deliver(toKernelAddress)
        rig.deliver(broadcast)
        #expect(rig.kernelFrames() == [toKernelAddress, broadcast])
    }

    @Test func whatTheKernelSendsLeavesByThePortUnchangedAndCounted() {
        var rig = Rig()
        let reply = Self.udpFrame(to: 5353)  // any frame: the engine does not look into it
        EngineNetworkTests.inject(reply, from: &rig.kernel)
        rig.step()
        #expect(rig.peerFrames() == [reply])
        #expect(rig.appliance.statistics.framesFromKernel == 1)
        #expect(rig.appliance.statistics.bytesFromKernel == UInt64(reply.count))
        #expect(rig.appliance.device.availableBuffers == rig.appliance.device.totalBuffers, "no buffer kept")
    }

    @Test func aKernelSideWithoutBuffersDropsAndCountsWithoutLosingOne() {
        var rig = Rig(kernelBuffers: 0)
        for _ in 0..<3 { rig.deliver(Self.udpFrame(to: 53)) }
        #expect(rig.appliance.statistics.framesToKernel == 0)
        #expect(rig.appliance.statistics.drops[.exceptionPathFull] == 3)
        #expect(rig.appliance.device.availableBuffers == rig.appliance.device.totalBuffers)
    }
}
