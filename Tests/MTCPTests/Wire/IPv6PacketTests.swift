import Testing
@testable import MTCP

@Suite struct IPv6PacketTests {
    /// scapy: IPv6(src="2001:2::2", dst="2001:2::1")/ICMPv6EchoRequest(id=0x1234, seq=1, data=b"abcdefgh")
    static let echoRequest = bytes(hex: """
        6000000000103a40200100020000000000000000000000022001000200000000000000000000000180009be1123400016162636465666768
        """)
    /// scapy: IPv6(src="2001:2::2", dst="2001:2::1")/TCP(sport=40000, dport=80, flags="S", seq=1000,
    /// options=[("MSS", 1440)])
    static let syn = bytes(hex: """
        600000000018064020010002000000000000000000000002200100020000000000000000000000019c400050000003e8000000006002200097b90000020405a0
        """)

    @Test func readsARealHeaderAndVerifiesUpperLayerChecksums() throws {
        try withPacket(Self.echoRequest) { buffer in
            let ip = try IPv6Packet(checking: buffer)
            #expect(ip.version == 6 && ip.trafficClass == 0 && ip.flowLabel == 0)
            #expect(ip.payloadLength == 16 && ip.nextHeader == .icmpv6 && ip.hopLimit == 64)
            #expect(ip.source == IPv6Address("2001:2::2") && ip.destination == IPv6Address("2001:2::1"))
            let icmp = try ICMPPacket(checking: ip.payload)
            #expect(icmp.icmpv6Type == .echoRequest)
            #expect(icmp.verifyChecksum(source: ip.source, destination: ip.destination))
            #expect(!icmp.verifyChecksum(source: ip.destination, destination: ip.source.solicitedNode))
        }
        try withPacket(Self.syn) { buffer in
            let ip = try IPv6Packet(checking: buffer)
            let tcp = try TCPSegment(checking: ip.payload)
            #expect(tcp.verifyChecksum(source: IPAddress(ip.source), destination: IPAddress(ip.destination)))
        }
    }

    @Test func emitsWhatItReads() throws {
        var frame = [UInt8](repeating: 0xAA, count: 56)
        try frame.withUnsafeMutableBytes { buffer in
            IPv6Repr(source: IPv6Address("2001:2::1")!, destination: IPv6Address("fe80::1")!, nextHeader: .tcp,
                     payloadLength: 16, hopLimit: 255).emit(into: IPv6Packet(unchecked: buffer))
            let ip = try IPv6Packet(checking: buffer)
            #expect(ip.version == 6 && ip.trafficClass == 0 && ip.flowLabel == 0 && ip.hopLimit == 255)
            #expect(ip.nextHeader == .tcp && ip.payload.count == 16)
            #expect(ip.source == IPv6Address("2001:2::1") && ip.destination == IPv6Address("fe80::1"))
        }
    }

    @Test func refusesEveryTruncationAndOtherVersions() {
        let errors = prefixErrors(of: Self.echoRequest) { buffer throws(WireError) in _ = try IPv6Packet(checking: buffer) }
        #expect(errors.dropLast().allSatisfy { $0 == .truncated })
        #expect(errors.last! == nil)
        var v4 = Self.echoRequest
        v4[0] = 0x40
        #expect(prefixErrors(of: v4) { buffer throws(WireError) in _ = try IPv6Packet(checking: buffer) }.last! == .badVersion)
    }
}
