import Testing
@testable import MTCP

@Suite struct IPv4PacketTests {
    static let client = IPv4Address(198, 18, 0, 2)
    static let server = IPv4Address(198, 18, 0, 1)
    static var synDatagram: [UInt8] { Array(RealFrames.syn[14...]) }
    static let synRepr = IPv4Repr(source: client, destination: server, protocol: .tcp, payloadLength: 40,
                                  timeToLive: 64, identification: 0x1234, dontFragment: true)

    @Test func readsARealHeader() throws {
        try withPacket(Self.synDatagram) { buffer in
            let ip = try IPv4Packet(checking: buffer)
            #expect(ip.version == 4)
            #expect(ip.headerLength == 20)
            #expect(ip.dscp == 0)
            #expect(ip.ecn == 0)
            #expect(ip.totalLength == 60)
            #expect(ip.identification == 0x1234)
            #expect(ip.dontFragment)
            #expect(!ip.moreFragments)
            #expect(ip.fragmentOffset == 0)
            #expect(!ip.isFragment)
            #expect(ip.timeToLive == 64)
            #expect(ip.protocol == .tcp)
            #expect(ip.checksum == 0x9C60)
            #expect(ip.source == Self.client)
            #expect(ip.destination == Self.server)
            #expect(ip.options.isEmpty)
            #expect(ip.payload.count == 40)
            #expect(ip.verifyChecksum())
            #expect(try IPv4Repr.parse(ip) == Self.synRepr)
        }
    }

    @Test func readsOptionsAndTypeOfService() throws {
        try withPacket(RealFrames.ipv4WithOptions) { buffer in
            let ip = try IPv4Packet(checking: buffer)
            #expect(ip.headerLength == 24)
            #expect(ip.dscp == 0xB9 >> 2)
            #expect(ip.ecn == 0xB9 & 3)
            #expect(Array(ip.options) == [1, 1, 1, 0])
            #expect(ip.payload.count == 8)
            #expect(ip.payload.first == 0x00 && ip.payload[1] == 0x01)  // UDP source port 1
            #expect(ip.protocol == .udp)
            #expect(ip.timeToLive == 3)
            #expect(!ip.dontFragment)
            #expect(ip.verifyChecksum())
            let repr = try IPv4Repr.parse(ip)
            #expect(repr.payloadLength == 8)
            #expect(repr.bufferLength == 28)  // emitted without the options
        }
    }

    @Test func settersWriteOnlyTheirBits() throws {
        try withPacket(Self.synDatagram) { buffer in
            let ip = try IPv4Packet(checking: buffer)
            ip.dscp = 0x2E
            ip.ecn = 0x3
            #expect(buffer[1] == 0xBB)
            ip.ecn = 0
            #expect(ip.dscp == 0x2E)
            ip.moreFragments = true
            ip.fragmentOffset = 0x1ABC
            #expect(ip.dontFragment && ip.moreFragments && ip.fragmentOffset == 0x1ABC)
            #expect(ip.isFragment)
            ip.dontFragment = false
            #expect(buffer[6] == 0x3A && buffer[7] == 0xBC)
            ip.moreFragments = false
            ip.fragmentOffset = 0
            #expect(!ip.isFragment && buffer[6] == 0 && buffer[7] == 0)
            ip.totalLength = 44
            ip.identification = 0xBEEF
            ip.timeToLive = 1
            ip.protocol = .icmp
            ip.source = IPv4Address(10, 1, 2, 3)
            ip.destination = IPv4Address(10, 4, 5, 6)
            ip.headerLength = 24
            #expect(buffer[0] == 0x46)
            ip.version = 6
            #expect(buffer[0] == 0x66)
            ip.version = 4
            #expect(Array(buffer[2..<20]) == [0, 44, 0xBE, 0xEF, 0, 0, 1, 1, 0x9C, 0x60, 10, 1, 2, 3, 10, 4, 5, 6])
            #expect(ip.options.count == 4 && ip.payload.count == 20)
            #expect(!ip.verifyChecksum())
            ip.fillChecksum()
            #expect(ip.verifyChecksum())
            ip.checksum = 0x1234
            #expect(ip.checksum == 0x1234 && buffer[10] == 0x12 && buffer[11] == 0x34)
        }
    }

    @Test func emitsTheSameHeaderAsScapy() throws {
        try withPacket([UInt8](repeating: 0xFF, count: 60)) { buffer in
            let ip = IPv4Packet(unchecked: buffer)
            Self.synRepr.emit(into: ip)
            #expect(Array(buffer[..<20]) == Array(Self.synDatagram[..<20]))
            #expect(ip.payload.count == 40)
            Self.synRepr.emit(into: ip, checksumOffloaded: true)
            #expect(ip.checksum == 0)
            var expected = Array(Self.synDatagram[..<20])
            expected[10] = 0
            expected[11] = 0
            #expect(Array(buffer[..<20]) == expected)
        }
    }

    @Test func parseEmitParse() throws {
        let repr = IPv4Repr(source: IPv4Address(1, 2, 3, 4), destination: IPv4Address(5, 6, 7, 8), protocol: .udp,
                            payloadLength: 3, timeToLive: 255, identification: 0xFFFF, dontFragment: false)
        try withPacket([UInt8](repeating: 0xA5, count: repr.bufferLength)) { buffer in
            repr.emit(into: IPv4Packet(unchecked: buffer))
            let ip = try IPv4Packet(checking: buffer)
            #expect(ip.verifyChecksum())
            #expect(try IPv4Repr.parse(ip) == repr)
        }
    }

    /// The header is summed from the words it is built of, not read back: its
    /// checksum must verify, and parse to the same fields, over every field's range.
    @Test func emittedHeadersVerifyAndParseBackForManyFieldValues() throws {
        var random = SeededGenerator(seed: 791)
        func next() -> UInt32 { UInt32(truncatingIfNeeded: random.next()) }
        for _ in 0..<2_000 {
            let repr = IPv4Repr(source: IPv4Address(next()), destination: IPv4Address(next()),
                                protocol: IPProtocol(rawValue: UInt8(truncatingIfNeeded: next())),
                                payloadLength: Int(next() % 1_481), timeToLive: UInt8(truncatingIfNeeded: next()),
                                identification: UInt16(truncatingIfNeeded: next()), dontFragment: next() & 1 == 0)
            try withPacket([UInt8](repeating: 0x5A, count: repr.bufferLength)) { buffer in
                repr.emit(into: IPv4Packet(unchecked: buffer))
                let ip = try IPv4Packet(checking: buffer)
                #expect(ip.verifyChecksum(), "\(repr)")
                #expect(try IPv4Repr.parse(ip) == repr)
            }
        }
    }

    @Test func payloadStopsAtTotalLengthNotAtFramePadding() throws {
        var frame = RealFrames.reset
        frame += [UInt8](repeating: 0, count: 60 - frame.count)  // what a NIC adds to reach 60 bytes
        try withPacket(frame) { buffer in
            let ethernet = try EthernetFrame(checking: buffer)
            #expect(ethernet.payload.count == 46)
            let ip = try IPv4Packet(checking: ethernet.payload)
            #expect(ip.payload.count == 20)
            #expect(try IPv4Repr.parse(ip).payloadLength == 20)
            let tcp = try TCPSegment(checking: ip.payload)
            #expect(tcp.payload.isEmpty)
            #expect(tcp.verifyChecksum(source: ip.source, destination: ip.destination))
        }
    }

    @Test func detectsFragments() throws {
        try withPacket(RealFrames.firstFragment) { buffer in
            let ip = try IPv4Packet(checking: buffer)
            #expect(ip.moreFragments && ip.fragmentOffset == 0 && ip.isFragment)
            #expect(ip.verifyChecksum())
            #expect(throws: WireError.fragmented) { try IPv4Repr.parse(ip) }
        }
        try withPacket(RealFrames.lastFragment) { buffer in
            let ip = try IPv4Packet(checking: buffer)
            #expect(!ip.moreFragments && ip.fragmentOffset == 2 && ip.isFragment)
            #expect(ip.verifyChecksum())
            #expect(throws: WireError.fragmented) { try IPv4Repr.parse(ip) }
        }
    }

    @Test func detectsEverySingleBitErrorInTheHeader() throws {
        for bit in 0..<(20 * 8) {
            var datagram = Self.synDatagram
            datagram[bit / 8] ^= 1 << UInt8(bit % 8)
            try withPacket(datagram) { buffer in
                // Flipping length bits may make the view refuse the datagram; that is detection too.
                guard let ip = try? IPv4Packet(checking: buffer) else { return }
                #expect(!ip.verifyChecksum(), "bit \(bit)")
            }
        }
    }

    @Test(arguments: [
        (0, UInt8(0x65), WireError.badVersion),       // version 6
        (0, UInt8(0x05), WireError.badVersion),       // version 0
        (0, UInt8(0x44), WireError.badHeaderLength),  // IHL 4
        (0, UInt8(0x40), WireError.badHeaderLength),  // IHL 0
        (3, UInt8(19), WireError.badTotalLength),     // total length below the header
        (3, UInt8(61), WireError.truncated),          // total length beyond the buffer
        (2, UInt8(0xFF), WireError.truncated),        // total length 65341
    ])
    func rejectsInconsistentLengths(offset: Int, value: UInt8, error: WireError) throws {
        var datagram = Self.synDatagram
        datagram[offset] = value
        try withPacket(datagram) { buffer in
            #expect(throws: error) { _ = try IPv4Packet(checking: buffer) }
        }
    }

    @Test func rejectsAHeaderLongerThanTheBuffer() throws {
        var header = Array(Self.synDatagram[..<20])
        header[0] = 0x4F  // 60 bytes of header
        header[3] = 20
        try withPacket(header) { buffer in
            #expect(throws: WireError.truncated) { _ = try IPv4Packet(checking: buffer) }
        }
    }

    @Test func rejectsEveryTruncation() {
        let errors = prefixErrors(of: Self.synDatagram) { buffer throws(WireError) in _ = try IPv4Packet(checking: buffer) }
        #expect(errors[..<60].allSatisfy { $0 == .truncated })
        #expect(errors[60] == nil)
    }
}
