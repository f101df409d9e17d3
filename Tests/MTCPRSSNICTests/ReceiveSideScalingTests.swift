import MTCP
import Testing

@testable import mtcp_rssnic

/// The fixture's spreading: DPDK's software Toeplitz against the published RSS
/// verification vectors and against the stack's own hash, and the frames a NIC
/// leaves unhashed on queue 0.
@Suite struct ReceiveSideScalingTests {
    /// The 82599 datasheet's verification key.
    static let verificationKey: [UInt8] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
        0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
        0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ]
    static let table = FlowSpreading.defaultRedirectionTable(queues: 2)

    /// An Ethernet + IPv4 (20-byte header) frame with `protocolNumber` and 4 bytes of ports.
    static func ipv4Frame(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16,
                          protocolNumber: UInt8 = 6, fragmentField: UInt16 = 0x4000) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: 14 + 20 + 20)
        frame[12] = 0x08
        frame[14] = 0x45
        frame[20] = UInt8(fragmentField >> 8)
        frame[21] = UInt8(fragmentField & 0xFF)
        frame[23] = protocolNumber
        frame.replaceSubrange(26..<30, with: source)
        frame.replaceSubrange(30..<34, with: destination)
        frame[34] = UInt8(sourcePort >> 8)
        frame[35] = UInt8(sourcePort & 0xFF)
        frame[36] = UInt8(destinationPort >> 8)
        frame[37] = UInt8(destinationPort & 0xFF)
        return frame
    }

    static func classify(_ frame: [UInt8]) -> ReceiveSideScaling.Classification {
        frame.withUnsafeBytes { ReceiveSideScaling.classify($0) }
    }

    @Test func theVerificationSuitesFirstVector() {
        let rss = ReceiveSideScaling(key: Self.verificationKey, redirectionTable: Self.table)
        let frame = Self.ipv4Frame(source: [66, 9, 149, 187], destination: [161, 142, 100, 80],
                                   sourcePort: 2794, destinationPort: 1766)
        #expect(rss.hash(of: Self.classify(frame)) == 0x51cc_c178)
        let fragment = Self.ipv4Frame(source: [66, 9, 149, 187], destination: [161, 142, 100, 80],
                                      sourcePort: 2794, destinationPort: 1766, fragmentField: 0x2000)
        #expect(rss.hash(of: Self.classify(fragment)) == 0x323e_8fc2, "a fragment: the addresses alone")
    }

    /// The fixture and the stack agree on every tuple's queue under our key:
    /// two implementations, so a fault in either shows.
    @Test func itSpreadsTCPAsTheStackPredicts() {
        let rss = ReceiveSideScaling(key: ToeplitzHash.symmetricKey, redirectionTable: Self.table)
        let stack = ToeplitzHash(key: ToeplitzHash.symmetricKey)
        var queues = Set<Int>()
        for port in UInt16(40000)..<40200 {
            let frame = Self.ipv4Frame(source: [198, 18, 0, 2], destination: [198, 18, 0, 1],
                                       sourcePort: port, destinationPort: 80)
            let predicted = stack.hash(source: IPv4Address(198, 18, 0, 2), destination: IPv4Address(198, 18, 0, 1),
                                       sourcePort: port, destinationPort: 80)
            let (queue, hashed) = frame.withUnsafeBytes { rss.queue(of: $0) }
            #expect(hashed)
            #expect(queue == Int(Self.table[Int(predicted % UInt32(Self.table.count))]), "port \(port)")
            queues.insert(queue)
        }
        #expect(queues == [0, 1])
    }

    @Test func arpAndOtherFramesGoToQueueZeroUnhashed() {
        let rss = ReceiveSideScaling(key: ToeplitzHash.symmetricKey, redirectionTable: Self.table)
        var arp = [UInt8](repeating: 0, count: 42)
        arp[12] = 0x08
        arp[13] = 0x06
        var ipv6 = [UInt8](repeating: 0, count: 74)
        ipv6[12] = 0x86
        ipv6[13] = 0xDD
        for frame in [arp, ipv6, [UInt8](repeating: 0, count: 10)] {
            let (queue, hashed) = frame.withUnsafeBytes { rss.queue(of: $0) }
            #expect(queue == 0 && !hashed)
        }
        let udp = Self.ipv4Frame(source: [198, 18, 0, 2], destination: [198, 18, 0, 1], sourcePort: 1, destinationPort: 2,
                                 protocolNumber: 17)
        #expect(Self.classify(udp) == .ipv4(source: 0xC612_0002, destination: 0xC612_0001), "other IPv4: the addresses")
    }
}
