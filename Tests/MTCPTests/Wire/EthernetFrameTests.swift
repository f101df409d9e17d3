import Testing
@testable import MTCP

@Suite struct EthernetFrameTests {
    static let first = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let second = MACAddress(0x02, 0, 0, 0, 0, 0x02)

    @Test func readsARealFrame() throws {
        try withPacket(RealFrames.syn) { buffer in
            let frame = try EthernetFrame(checking: buffer)
            #expect(frame.destination == Self.second)
            #expect(frame.source == Self.first)
            #expect(frame.etherType == .ipv4)
            #expect(frame.payload.count == RealFrames.syn.count - 14)
            #expect(frame.payload.first == 0x45)
            #expect(EthernetRepr.parse(frame) == EthernetRepr(source: Self.first, destination: Self.second, etherType: .ipv4))
        }
    }

    @Test func settersWriteThrough() throws {
        try withPacket([UInt8](repeating: 0, count: 14)) { buffer in
            let frame = try EthernetFrame(checking: buffer)
            frame.destination = .broadcast
            frame.source = MACAddress(0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F)
            frame.etherType = .arp
            #expect(Array(buffer) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x08, 0x06])
            #expect(frame.destination == .broadcast)
            #expect(frame.source == MACAddress(0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F))
            #expect(frame.etherType == .arp)
            #expect(frame.payload.isEmpty)
        }
    }

    @Test func emitThenParse() throws {
        let repr = EthernetRepr(source: Self.first, destination: .broadcast, etherType: .arp)
        try withPacket([UInt8](repeating: 0xEE, count: 20)) { buffer in
            repr.emit(into: EthernetFrame(unchecked: buffer))
            #expect(Array(buffer[..<14]) == Array(RealFrames.arpRequest[..<14]))
            #expect(buffer[14] == 0xEE)  // the payload is the caller's
            let frame = try EthernetFrame(checking: buffer)
            #expect(EthernetRepr.parse(frame) == repr)
        }
    }

    @Test func vlanTaggedFramesParseAsSuch() throws {
        var tagged = RealFrames.syn
        tagged.insert(contentsOf: [0x81, 0x00, 0x00, 0x05], at: 12)
        try withPacket(tagged) { buffer in
            let frame = try EthernetFrame(checking: buffer)
            #expect(frame.etherType == .vlan)
        }
    }

    @Test func rejectsEveryShortBuffer() throws {
        let errors = prefixErrors(of: RealFrames.arpRequest) { buffer throws(WireError) in _ = try EthernetFrame(checking: buffer) }
        #expect(errors[..<14].allSatisfy { $0 == .truncated })
        #expect(errors[14...].allSatisfy { $0 == nil })
    }
}
