import Testing
@testable import MTCP

@Suite struct TCPOptionsTests {
    static func parse(_ bytes: [UInt8]) throws -> TCPOptions {
        try withPacket(bytes) { buffer in try TCPOptions(parsing: buffer) }
    }

    static func emit(_ options: TCPOptions) throws -> [UInt8] {
        try withPacket([UInt8](repeating: 0xEE, count: TCPOptions.maximumLength)) { buffer in
            let length = options.emit(into: buffer)
            #expect(length == options.encodedLength)
            return Array(buffer[..<length])
        }
    }

    @Test func parsesEachKnownKind() throws {
        #expect(try Self.parse([2, 4, 0x05, 0xB4]) == TCPOptions(maximumSegmentSize: 1460))
        #expect(try Self.parse([1, 3, 3, 7]) == TCPOptions(windowScale: 7))
        #expect(try Self.parse([1, 1, 4, 2]) == TCPOptions(sackPermitted: true))
        #expect(try Self.parse([8, 10, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE, 1, 1])
                == TCPOptions(timestamp: TCPTimestamp(value: 1, echoReply: 0xFFFF_FFFE)))
        #expect(try Self.parse([1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2])
                == TCPOptions(sackBlocks: [SACKBlock(left: 1, right: 2)]))
        #expect(try Self.parse([]) == TCPOptions())
    }

    /// The layout every established segment carries takes a shortcut: what it
    /// yields must be what the general walk yields, and other 12-byte areas
    /// (timestamps first, or another option behind the two no-ops) are walked.
    @Test func alignedTimestampsParseAsAnyOtherLayout() throws {
        let timestamp = TCPTimestamp(value: 0x0102_0304, echoReply: 0xFFFF_FFFE)
        #expect(try Self.parse([1, 1, 8, 10, 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFE]) == TCPOptions(timestamp: timestamp))
        #expect(try Self.parse([8, 10, 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFE, 1, 1]) == TCPOptions(timestamp: timestamp))
        #expect(try Self.parse([1, 1, 8, 10, 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFE, 0, 0, 0, 0])
                == TCPOptions(timestamp: timestamp))
        #expect(try Self.parse([1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]) == TCPOptions(sackBlocks: [SACKBlock(left: 1, right: 2)]))
    }

    @Test func clampsTheWindowScale() throws {
        #expect(try Self.parse([3, 3, 14, 0]).windowScale == 14)
        #expect(try Self.parse([3, 3, 15, 0]).windowScale == 14)
        #expect(try Self.parse([3, 3, 255, 0]).windowScale == 14)
    }

    @Test func endOfListStopsAndUnknownKindsAreSkipped() throws {
        // Kind 30 (MPTCP) with 4 bytes is skipped; after EOL anything goes, even nonsense.
        #expect(try Self.parse([30, 4, 0xAB, 0xCD, 2, 4, 0x02, 0x18, 0, 2, 99, 1]) == TCPOptions(maximumSegmentSize: 536))
        #expect(try Self.parse([0, 2, 4, 5, 0xB4]) == TCPOptions())
        #expect(try Self.parse([1, 1, 1, 1]) == TCPOptions())
        #expect(try Self.parse([253, 2, 1, 0]) == TCPOptions())  // experimental kind, empty value
    }

    @Test(arguments: [
        [2, 3, 5, 0], [2, 5, 5, 0xB4, 0], [2, 2, 0, 0],     // MSS not 4 long
        [3, 2, 0, 0], [3, 4, 7, 0],                         // window scale not 3 long
        [4, 3, 0, 0], [4, 4, 0, 0],                         // SACK-permitted not 2 long
        [5, 2, 0, 0], [5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0], // SACK without blocks or with a partial block
        [5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0],
        [5, 42] + [UInt8](repeating: 0, count: 40),         // five blocks: more than fit any header
        [8, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0], [8, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0], // timestamps not 10 long
        [30, 1, 0, 0], [30, 0, 0, 0], [2, 0],               // length below 2 (would loop forever at 0)
        [1, 1, 1, 2], [1, 1, 2, 4, 5], [30, 5, 0, 0],      // missing length byte; option past the end
        [1, 8, 10, 0, 0, 0, 1, 0, 0, 0],                    // timestamps cut by the end of the area
    ] as [[UInt8]])
    func rejectsMalformedOptions(bytes: [UInt8]) {
        #expect(throws: WireError.malformedOption) { try Self.parse(bytes) }
    }

    @Test func sackWithOneToFourBlocks() throws {
        for count in 1...4 {
            var options = TCPOptions()
            for block in 0..<count {
                options.sackBlocks.append(SACKBlock(left: UInt32(block) * 100, right: UInt32(block) * 100 + 50))
            }
            let bytes = try Self.emit(options)
            #expect(bytes.count == 4 + 8 * count)
            #expect(Array(bytes[..<4]) == [1, 1, 5, UInt8(2 + 8 * count)])
            let parsed = try Self.parse(bytes)
            #expect(parsed == options)
            #expect(parsed.sackBlocks.count == count)
            #expect(parsed.sackBlocks.last == SACKBlock(left: UInt32(count - 1) * 100, right: UInt32(count - 1) * 100 + 50))
        }
    }

    @Test func sackBlocksThatDoNotFitAreLeftOut() throws {
        let blocks: SACKBlockList = [SACKBlock(left: 1, right: 2), SACKBlock(left: 3, right: 4),
                                     SACKBlock(left: 5, right: 6), SACKBlock(left: 7, right: 8)]
        let options = TCPOptions(timestamp: TCPTimestamp(value: 9, echoReply: 10), sackBlocks: blocks)
        #expect(options.encodedLength == 40)  // 12 for timestamps, 4 + 3 * 8 for SACK
        let parsed = try Self.parse(try Self.emit(options))
        #expect(Array(parsed.sackBlocks) == Array(blocks.prefix(3)))
        #expect(parsed.timestamp == options.timestamp)
        var crowded = options
        crowded.maximumSegmentSize = 1460
        crowded.windowScale = 7
        crowded.sackPermitted = true
        #expect(crowded.encodedLength == 40)  // 4 + 12 + 4 + (4 + 2 * 8): two blocks left
        #expect(try Self.parse(try Self.emit(crowded)).sackBlocks.count == 2)
    }

    @Test func emitsLinuxLayouts() throws {
        let timestamp = TCPTimestamp(value: 0x0102_0304, echoReply: 0x0506_0708)
        #expect(try Self.emit(TCPOptions()) == [])
        #expect(try Self.emit(TCPOptions(maximumSegmentSize: 1460, windowScale: 7, sackPermitted: true, timestamp: timestamp))
                == [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7])
        #expect(try Self.emit(TCPOptions(maximumSegmentSize: 1460, windowScale: 0, sackPermitted: true))
                == [2, 4, 0x05, 0xB4, 1, 1, 4, 2, 1, 3, 3, 0])
        #expect(try Self.emit(TCPOptions(timestamp: timestamp)) == [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8])
        for options in [TCPOptions(maximumSegmentSize: 1), TCPOptions(windowScale: 1), TCPOptions(sackPermitted: true),
                        TCPOptions(maximumSegmentSize: 1, timestamp: timestamp)] {
            let bytes = try Self.emit(options)
            #expect(bytes.count % 4 == 0)
            #expect(try Self.parse(bytes) == options)
        }
    }

    @Test func sackBlockListEquality() {
        var list = SACKBlockList()
        #expect(list.isEmpty)
        list.append(SACKBlock(left: 1, right: 2))
        #expect(list == [SACKBlock(left: 1, right: 2)])
        #expect(list != [SACKBlock(left: 1, right: 3)])
        #expect(list != [])
        #expect(Set([list, [SACKBlock(left: 1, right: 2)]]).count == 1)
    }
}
