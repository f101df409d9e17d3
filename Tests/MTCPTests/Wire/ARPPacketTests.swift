import Testing
@testable import MTCP

@Suite struct ARPPacketTests {
    static let request = ARPRepr(operation: .request,
                                 senderHardwareAddress: MACAddress(0x02, 0, 0, 0, 0, 0x01),
                                 senderProtocolAddress: IPv4Address(198, 18, 0, 2),
                                 targetHardwareAddress: .zero,
                                 targetProtocolAddress: IPv4Address(198, 18, 0, 1))

    static var packet: [UInt8] { Array(RealFrames.arpRequest[14...]) }

    @Test func readsARealRequest() throws {
        try withPacket(Self.packet) { buffer in
            let arp = try ARPPacket(checking: buffer)
            #expect(arp.hardwareType == 1)
            #expect(arp.protocolType == .ipv4)
            #expect(arp.hardwareLength == 6)
            #expect(arp.protocolLength == 4)
            #expect(ARPRepr.parse(arp) == Self.request)
        }
    }

    @Test func emitsTheSameBytesAsScapy() throws {
        try withPacket([UInt8](repeating: 0xAA, count: ARPRepr.bufferLength)) { buffer in
            Self.request.emit(into: ARPPacket(unchecked: buffer))
            #expect(Array(buffer) == Self.packet)
        }
    }

    @Test func settersWriteThrough() throws {
        try withPacket(Self.packet) { buffer in
            let arp = try ARPPacket(checking: buffer)
            arp.operation = .reply
            arp.senderHardwareAddress = MACAddress(1, 2, 3, 4, 5, 6)
            arp.senderProtocolAddress = IPv4Address(10, 0, 0, 1)
            arp.targetHardwareAddress = MACAddress(7, 8, 9, 10, 11, 12)
            arp.targetProtocolAddress = IPv4Address(10, 0, 0, 2)
            #expect(Array(buffer[6...]) == [0, 2, 1, 2, 3, 4, 5, 6, 10, 0, 0, 1, 7, 8, 9, 10, 11, 12, 10, 0, 0, 2])
            #expect(ARPRepr.parse(arp) == ARPRepr(operation: .reply,
                                                  senderHardwareAddress: MACAddress(1, 2, 3, 4, 5, 6),
                                                  senderProtocolAddress: IPv4Address(10, 0, 0, 1),
                                                  targetHardwareAddress: MACAddress(7, 8, 9, 10, 11, 12),
                                                  targetProtocolAddress: IPv4Address(10, 0, 0, 2)))
            arp.hardwareType = 6
            arp.protocolType = .arp
            arp.hardwareLength = 8
            arp.protocolLength = 16
            #expect(Array(buffer[..<6]) == [0, 6, 0x08, 0x06, 8, 16])
        }
    }

    @Test func acceptsEthernetPadding() throws {
        try withPacket(Self.packet + [UInt8](repeating: 0, count: 18)) { buffer in
            let arp = try ARPPacket(checking: buffer)
            #expect(ARPRepr.parse(arp) == Self.request)
        }
    }

    @Test(arguments: [
        (1, UInt8(0x00), WireError.unsupportedHardware),  // hardware type 0
        (1, UInt8(0x06), WireError.unsupportedHardware),  // hardware type 6 (IEEE 802)
        (4, UInt8(0x08), WireError.unsupportedHardware),  // hardware address length 8
        (2, UInt8(0x86), WireError.unsupportedProtocol),  // protocol type 0x8600
        (3, UInt8(0xDD), WireError.unsupportedProtocol),  // protocol type 0x08dd
        (5, UInt8(0x10), WireError.unsupportedProtocol),  // protocol address length 16
        (7, UInt8(0x03), WireError.badOperation),         // RARP request
        (7, UInt8(0x00), WireError.badOperation),
        (6, UInt8(0x01), WireError.badOperation),         // operation 0x0101
    ])
    func rejectsOtherAddressSpacesAndOperations(offset: Int, value: UInt8, error: WireError) throws {
        var packet = Self.packet
        packet[offset] = value
        try withPacket(packet) { buffer in
            #expect(throws: error) { _ = try ARPPacket(checking: buffer) }
        }
    }

    @Test func rejectsEveryShortBuffer() throws {
        let errors = prefixErrors(of: Self.packet) { buffer throws(WireError) in _ = try ARPPacket(checking: buffer) }
        #expect(errors[..<28].allSatisfy { $0 == .truncated })
        #expect(errors[28] == nil)
    }
}
