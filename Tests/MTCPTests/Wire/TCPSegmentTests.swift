import Testing
@testable import MTCP

@Suite struct TCPSegmentTests {
    static let client = IPv4Address(198, 18, 0, 2)
    static let server = IPv4Address(198, 18, 0, 1)
    static var syn: [UInt8] { Array(RealFrames.syn[34...]) }
    static var data: [UInt8] { Array(RealFrames.data[34...]) }

    static let synRepr = TCPRepr(
        sourcePort: 40000, destinationPort: 80, sequenceNumber: 0x0102_0304, acknowledgmentNumber: nil,
        flags: .syn, window: 64240,
        options: TCPOptions(maximumSegmentSize: 1460, windowScale: 7, sackPermitted: true,
                            timestamp: TCPTimestamp(value: 123_456, echoReply: 0)))

    static let dataRepr = TCPRepr(
        sourcePort: 80, destinationPort: 40000, sequenceNumber: 1000, acknowledgmentNumber: 2000,
        flags: [.psh, .ack], window: 502,
        options: TCPOptions(timestamp: TCPTimestamp(value: 5, echoReply: 6),
                            sackBlocks: [SACKBlock(left: 3000, right: 4000), SACKBlock(left: 5000, right: 6000)]),
        payloadLength: 13)

    @Test func readsARealSYN() throws {
        try withPacket(Self.syn) { buffer in
            let tcp = try TCPSegment(checking: buffer)
            #expect(tcp.sourcePort == 40000)
            #expect(tcp.destinationPort == 80)
            #expect(tcp.sequenceNumber == 0x0102_0304)
            #expect(tcp.acknowledgmentNumber == 0)
            #expect(tcp.headerLength == 40)
            #expect(tcp.flags == .syn)
            #expect(tcp.window == 64240)
            #expect(tcp.checksum == 0x3E0F)
            #expect(tcp.urgentPointer == 0)
            #expect(tcp.options.count == 20)
            #expect(tcp.payload.isEmpty)
            #expect(tcp.verifyChecksum(source: Self.client, destination: Self.server))
            #expect(!tcp.verifyChecksum(source: Self.server, destination: Self.server))
            #expect(try TCPRepr.parse(tcp) == Self.synRepr)
        }
    }

    @Test func readsARealDataSegmentWithSACK() throws {
        try withPacket(Self.data) { buffer in
            let tcp = try TCPSegment(checking: buffer)
            #expect(tcp.flags == [.psh, .ack])
            #expect(tcp.acknowledgmentNumber == 2000)
            #expect(String(decoding: tcp.payload, as: UTF8.self) == "hello, world!")
            #expect(tcp.verifyChecksum(source: Self.server, destination: Self.client))
            #expect(try TCPRepr.parse(tcp) == Self.dataRepr)
        }
    }

    /// Emits `repr`, copies `payload` after the header and fills the checksum.
    static func emit(_ repr: TCPRepr, payload: [UInt8], source: IPv4Address, destination: IPv4Address) throws -> [UInt8] {
        try withPacket([UInt8](repeating: 0xEE, count: repr.bufferLength)) { buffer in
            let tcp = TCPSegment(unchecked: buffer)
            repr.emit(into: tcp)
            #expect(tcp.checksum == 0)
            payload.withUnsafeBytes { tcp.payload.copyMemory(from: $0) }
            tcp.fillChecksum(source: source, destination: destination)
            return Array(buffer)
        }
    }

    @Test func emitsTheSameSegmentsAsScapy() throws {
        #expect(try Self.emit(Self.synRepr, payload: [], source: Self.client, destination: Self.server) == Self.syn)
        let emitted = try Self.emit(Self.dataRepr, payload: Array("hello, world!".utf8),
                                    source: Self.server, destination: Self.client)
        #expect(emitted == Self.data)
    }

    /// The fixed header is written as whole words: every field must come back
    /// as it was given, over the fields' ranges, with and without options.
    @Test func emittedHeadersParseBackForManyFieldValues() throws {
        var random = SeededGenerator(seed: 9293)
        func next() -> UInt32 { UInt32(truncatingIfNeeded: random.next()) }
        for _ in 0..<2_000 {
            let acknowledgment: UInt32? = next() & 3 == 0 ? nil : next()
            var flags = TCPFlags(rawValue: UInt8(truncatingIfNeeded: next()))
            flags = acknowledgment == nil ? flags.subtracting(.ack) : flags.union(.ack)
            let options = next() & 1 == 0 ? TCPOptions()
                : TCPOptions(timestamp: TCPTimestamp(value: next(), echoReply: next()))
            let repr = TCPRepr(sourcePort: UInt16(truncatingIfNeeded: next()),
                               destinationPort: UInt16(truncatingIfNeeded: next()), sequenceNumber: next(),
                               acknowledgmentNumber: acknowledgment, flags: flags,
                               window: UInt16(truncatingIfNeeded: next()), urgentPointer: UInt16(truncatingIfNeeded: next()),
                               options: options, payloadLength: Int(next() % 64))
            let bytes = try Self.emit(repr, payload: [UInt8](repeating: 0x61, count: repr.payloadLength),
                                      source: Self.client, destination: Self.server)
            try withPacket(bytes) { buffer in
                let tcp = try TCPSegment(checking: buffer)
                #expect(tcp.verifyChecksum(source: Self.client, destination: Self.server))
                #expect(try TCPRepr.parse(tcp) == repr)
            }
        }
    }

    @Test func pseudoHeaderChecksumIsWhatTheNICCompletes() throws {
        try withPacket(Self.data) { buffer in
            let tcp = try TCPSegment(checking: buffer)
            tcp.fillPseudoHeaderChecksum(source: Self.server, destination: Self.client)
            let pseudo = InternetChecksum.pseudoHeaderSum(source: Self.server, destination: Self.client,
                                                          protocol: .tcp, length: buffer.count)
            #expect(tcp.checksum == pseudo.folded)
            // The NIC sums the segment as it is (pseudo-header sum in the field) and stores
            // the complement: the same checksum software would have computed.
            var hardware = InternetChecksum()
            hardware.add(UnsafeRawBufferPointer(buffer))
            #expect(hardware.checksum == 0x4273)  // scapy's
            #expect(Self.data[16] == 0x42 && Self.data[17] == 0x73)
        }
    }

    @Test func settersWriteThrough() throws {
        try withPacket([UInt8](repeating: 0, count: 24)) { buffer in
            buffer[12] = 0x5F  // data offset 5 with the reserved bits set
            let tcp = try TCPSegment(checking: buffer)
            tcp.sourcePort = 0x0102
            tcp.destinationPort = 0x0304
            tcp.sequenceNumber = 0x0506_0708
            tcp.acknowledgmentNumber = 0x090A_0B0C
            tcp.headerLength = 24
            tcp.flags = [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr]
            tcp.window = 0x0D0E
            tcp.checksum = 0x0F10
            tcp.urgentPointer = 0x1112
            #expect(Array(buffer[..<20]) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x6F, 0xFF, 13, 14, 15, 16, 17, 18])
            #expect(tcp.sourcePort == 0x0102 && tcp.destinationPort == 0x0304)
            #expect(tcp.sequenceNumber == 0x0506_0708 && tcp.acknowledgmentNumber == 0x090A_0B0C)
            #expect(tcp.headerLength == 24 && tcp.options.count == 4 && tcp.payload.isEmpty)
            #expect(tcp.flags.rawValue == 0xFF)
            #expect(tcp.window == 0x0D0E && tcp.checksum == 0x0F10 && tcp.urgentPointer == 0x1112)
            tcp.flags = [.syn, .ack]
            #expect(buffer[13] == 0x12)
            tcp.flags = [.fin, .psh, .urg, .cwr]
            #expect(buffer[13] == 0xA9)
        }
    }

    @Test func emitDerivesTheACKFlagFromTheAcknowledgmentNumber() throws {
        var repr = TCPRepr(sourcePort: 1, destinationPort: 2, sequenceNumber: 3, acknowledgmentNumber: nil,
                           flags: [.ack, .fin], window: 4)
        var bytes = try Self.emit(repr, payload: [], source: Self.client, destination: Self.server)
        #expect(bytes[13] == TCPFlags.fin.rawValue && bytes[8..<12].allSatisfy { $0 == 0 })
        repr.acknowledgmentNumber = 0xFFFF_FFFF
        repr.flags = .syn
        bytes = try Self.emit(repr, payload: [], source: Self.client, destination: Self.server)
        #expect(bytes[13] == TCPFlags([.syn, .ack]).rawValue && bytes[8..<12].allSatisfy { $0 == 0xFF })
        try withPacket(bytes) { buffer in
            let parsed = try TCPRepr.parse(TCPSegment(checking: buffer))
            #expect(parsed.acknowledgmentNumber == 0xFFFF_FFFF && parsed.flags == [.syn, .ack])
        }
    }

    @Test func parseEmitParse() throws {
        var random = SeededGenerator(seed: 9293)
        for round in 0..<50 {
            var options = TCPOptions()
            if Bool.random(using: &random) { options.maximumSegmentSize = .random(in: .min ... .max, using: &random) }
            if Bool.random(using: &random) { options.windowScale = .random(in: 0...14, using: &random) }
            options.sackPermitted = Bool.random(using: &random)
            if Bool.random(using: &random) {
                options.timestamp = TCPTimestamp(value: .random(in: .min ... .max, using: &random),
                                                 echoReply: .random(in: .min ... .max, using: &random))
            }
            for _ in 0..<Int.random(in: 0...(options.timestamp == nil ? 2 : 1), using: &random) {
                options.sackBlocks.append(SACKBlock(left: .random(in: .min ... .max, using: &random),
                                                    right: .random(in: .min ... .max, using: &random)))
            }
            let repr = TCPRepr(sourcePort: .random(in: .min ... .max, using: &random),
                               destinationPort: .random(in: .min ... .max, using: &random),
                               sequenceNumber: .random(in: .min ... .max, using: &random),
                               acknowledgmentNumber: Bool.random(using: &random) ? .random(in: .min ... .max, using: &random) : nil,
                               flags: TCPFlags(rawValue: .random(in: .min ... .max, using: &random) & ~TCPFlags.ack.rawValue),
                               window: .random(in: .min ... .max, using: &random),
                               urgentPointer: .random(in: .min ... .max, using: &random),
                               options: options, payloadLength: round)
            let payload = (0..<round).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            let bytes = try Self.emit(repr, payload: payload, source: Self.client, destination: Self.server)
            try withPacket(bytes) { buffer in
                let tcp = try TCPSegment(checking: buffer)
                #expect(tcp.verifyChecksum(source: Self.client, destination: Self.server))
                var expected = repr
                if repr.acknowledgmentNumber != nil { expected.flags.insert(.ack) }
                #expect(try TCPRepr.parse(tcp) == expected)
                #expect(Array(tcp.payload) == payload)
            }
        }
    }

    @Test func detectsABadChecksum() throws {
        for index in Self.data.indices {
            var segment = Self.data
            segment[index] &+= 1
            try withPacket(segment) { buffer in
                guard let tcp = try? TCPSegment(checking: buffer) else { return }  // data offset changed
                #expect(!tcp.verifyChecksum(source: Self.server, destination: Self.client), "byte \(index)")
            }
        }
    }

    @Test(arguments: [(UInt8(0x40), WireError.badHeaderLength), (0x00, .badHeaderLength),
                      (0xB0, .truncated), (0xF0, .truncated)])
    func rejectsBadDataOffsets(byte: UInt8, error: WireError) throws {
        var segment = Self.syn
        segment[12] = byte
        try withPacket(segment) { buffer in
            #expect(throws: error) { _ = try TCPSegment(checking: buffer) }
        }
    }

    @Test func rejectsEveryShortBuffer() {
        let errors = prefixErrors(of: Self.data) { buffer throws(WireError) in _ = try TCPSegment(checking: buffer) }
        #expect(errors[..<52].allSatisfy { $0 == .truncated })
        #expect(errors[52...].allSatisfy { $0 == nil })  // TCP has no length of its own: any payload fits
    }
}
