import Testing
@testable import MTCP

/// `vip` addresses: served and answered from like the own address; ARP for
/// them answered unless configured not to (direct server return).
@Suite struct VirtualAddressTests {
    typealias Rig = ExceptionPathTests.Rig
    static let vip = IPv4Address(198, 18, 1, 10)
    static let silentVIP = IPv4Address(198, 18, 1, 11)

    static func rig(listenOn ports: [UInt16] = [80]) -> Rig {
        Rig(kept: nil, listenOn: ports) { configuration in
            configuration.virtualAddresses = [VirtualAddress(address: vip),
                                              VirtualAddress(address: silentVIP, answersARP: false)]
        }
    }

    /// The IPv4 source of each frame that carries IPv4 (nil for others).
    static func ipSources(_ frames: [[UInt8]]) -> [IPv4Address?] {
        frames.map { bytes in
            var copy = bytes
            return copy.withUnsafeMutableBytes { raw -> IPv4Address? in
                guard let frame = try? EthernetFrame(checking: raw), frame.etherType == .ipv4,
                      let packet = try? IPv4Packet(checking: frame.payload) else { return nil }
                return packet.source
            }
        }
    }

    /// The ARP replies among `frames`, as parsed.
    static func arpReplies(_ frames: [[UInt8]]) -> [ARPRepr] {
        frames.compactMap { bytes in
            var copy = bytes
            return copy.withUnsafeMutableBytes { raw -> ARPRepr? in
                guard let frame = try? EthernetFrame(checking: raw), frame.etherType == .arp,
                      let packet = try? ARPPacket(checking: frame.payload) else { return nil }
                let arp = ARPRepr.parse(packet)
                return arp.operation == .reply ? arp : nil
            }
        }
    }

    @Test func aSYNToAVIPIsAnsweredFromIt() {
        for address in [Self.vip, Self.silentVIP] {
            var rig = Self.rig()
            rig.deliver(ExceptionPathTests.tcpFrame(.syn, to: 80, to: address))
            let replies = rig.peerFrames()
            #expect(ExceptionPathTests.tcpFlags(of: replies) == [[.syn, .ack]])
            #expect(Self.ipSources(replies) == [address])
        }
        var plain = Rig(kept: nil, listenOn: [80])
        plain.deliver(ExceptionPathTests.tcpFrame(.syn, to: 80, to: Self.vip))
        #expect(plain.peerFrames().isEmpty)
        #expect(plain.appliance.statistics.drops[.ipv4OtherDestination] == 1)
    }

    @Test func aPingToAVIPIsAnsweredFromIt() {
        var rig = Self.rig()
        // The echo request frame addressed to A, readdressed to the VIP.
        var ping = EngineNetworkTests.echoRequestFrame(dataLength: 8)
        ping.withUnsafeMutableBytes { raw in
            let packet = IPv4Packet(unchecked: EthernetFrame(unchecked: raw).payload)
            packet.destination = Self.vip
            packet.fillChecksum()
        }
        rig.deliver(ping)
        #expect(rig.appliance.statistics.echoRepliesSent == 1)
        #expect(Self.ipSources(rig.peerFrames()) == [Self.vip])
    }

    @Test func arpIsAnsweredForAVIPUnlessItIsSilent() {
        var rig = Self.rig()
        rig.deliver(ARPFloodTests.request(from: ExceptionPathTests.ipB, mac: ExceptionPathTests.macB, for: Self.vip))
        let replies = Self.arpReplies(rig.peerFrames())
        #expect(replies.map(\.senderProtocolAddress) == [Self.vip])
        #expect(replies.map(\.senderHardwareAddress) == [ExceptionPathTests.macA])

        rig.deliver(ARPFloodTests.request(from: ExceptionPathTests.ipB, mac: ExceptionPathTests.macB,
                                          for: Self.silentVIP))
        #expect(rig.peerFrames().isEmpty)
        #expect(rig.appliance.statistics.drops[.arpNotForUs] == 1)
    }
}
