import Testing
@testable import MTCP

@Suite struct ICMPPacketTests {
    static var request: [UInt8] { Array(RealFrames.icmpEchoRequest[34...]) }
    static let requestRepr = ICMPEchoRepr(kind: .request, identifier: 0x1C2D, sequenceNumber: 3, dataLength: 21)

    @Test func readsARealEchoRequest() throws {
        try withPacket(Self.request) { buffer in
            let icmp = try ICMPPacket(checking: buffer)
            #expect(icmp.messageType == .echoRequest)
            #expect(icmp.code == 0)
            #expect(icmp.checksum == 0xBCCA)
            #expect(icmp.identifier == 0x1C2D)
            #expect(icmp.sequenceNumber == 3)
            #expect(Array(icmp.data) == Array(0x10...0x24))
            #expect(icmp.verifyChecksum())
            #expect(try ICMPEchoRepr.parse(icmp) == Self.requestRepr)
        }
    }

    @Test func settersWriteThrough() throws {
        try withPacket([UInt8](repeating: 0, count: 8)) { buffer in
            let icmp = try ICMPPacket(checking: buffer)
            icmp.messageType = .timeExceeded
            icmp.code = 1
            icmp.checksum = 0xABCD
            icmp.identifier = 0x0102
            icmp.sequenceNumber = 0x0304
            #expect(Array(buffer) == [11, 1, 0xAB, 0xCD, 1, 2, 3, 4])
            #expect(icmp.messageType == .timeExceeded && icmp.code == 1 && icmp.checksum == 0xABCD)
            #expect(icmp.identifier == 0x0102 && icmp.sequenceNumber == 0x0304)
            #expect(icmp.data.isEmpty)
        }
    }

    @Test func emittedReplyMatchesAnInPlaceRewrite() throws {
        let reply = ICMPEchoRepr(kind: .reply, identifier: 0x1C2D, sequenceNumber: 3, dataLength: 21)
        try withPacket([UInt8](repeating: 0x77, count: reply.bufferLength)) { buffer in
            let icmp = ICMPPacket(unchecked: buffer)
            reply.emit(into: icmp)
            #expect(icmp.checksum == 0)
            for (index, byte) in (0x10...0x24).enumerated() { icmp.data[index] = UInt8(byte) }
            icmp.fillChecksum()
            #expect(icmp.verifyChecksum())
            // A responder may instead flip the type in place and patch the checksum (RFC 1624).
            let patched = InternetChecksum.update(0xBCCA, replacing: UInt16(8) << 8, with: 0)
            #expect(icmp.checksum == patched)
            let parsed = try ICMPPacket(checking: buffer)
            #expect(try ICMPEchoRepr.parse(parsed) == reply)
        }
    }

    @Test func detectsABadChecksum() throws {
        for index in Self.request.indices {
            var message = Self.request
            message[index] ^= 0x40
            try withPacket(message) { buffer in
                let icmp = try ICMPPacket(checking: buffer)
                #expect(!icmp.verifyChecksum(), "byte \(index)")
            }
        }
    }

    @Test(arguments: [(UInt8(3), UInt8(1)), (11, 0), (13, 0), (8, 1), (0, 5)])
    func refusesOtherMessages(type: UInt8, code: UInt8) throws {
        var message = Self.request
        message[0] = type
        message[1] = code
        try withPacket(message) { buffer in
            let icmp = try ICMPPacket(checking: buffer)
            #expect(throws: WireError.unsupportedMessage) { try ICMPEchoRepr.parse(icmp) }
        }
    }

    @Test func rejectsEveryShortBuffer() {
        let errors = prefixErrors(of: Self.request) { buffer throws(WireError) in _ = try ICMPPacket(checking: buffer) }
        #expect(errors[..<8].allSatisfy { $0 == .truncated })
        #expect(errors[8...].allSatisfy { $0 == nil })
    }
}
