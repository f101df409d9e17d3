import Foundation
import Testing
@testable import MTCP

@Suite struct PacketCaptureTests {
    private static func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("mtcp-capture-\(UUID().uuidString).pcap").path
    }

    /// Little-endian reads (the file is in host byte order; the tests run on little-endian hosts).
    private static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
    private static func u16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    private struct Record: Equatable {
        var seconds: UInt32
        var nanoseconds: UInt32
        var bytes: [UInt8]
    }

    /// The records after the global header, checked for consistent lengths.
    private static func records(_ file: [UInt8]) -> [Record]? {
        var records: [Record] = []
        var offset = 24
        while offset < file.count {
            guard offset + 16 <= file.count else { return nil }
            let included = Int(u32(file, offset + 8))
            guard u32(file, offset + 12) == UInt32(included), offset + 16 + included <= file.count else { return nil }
            records.append(Record(seconds: u32(file, offset), nanoseconds: u32(file, offset + 4),
                                  bytes: Array(file[offset + 16..<offset + 16 + included])))
            offset += 16 + included
        }
        return records
    }

    private static func record(_ capture: inout PacketCapture, _ bytes: [UInt8], at time: Instant) {
        bytes.withUnsafeBytes { capture.record($0, at: time) }
    }

    @Test func writesTheGlobalHeaderAndRecords() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let offset: Int64 = 1_700_000_000 * 1_000_000_000 + 250  // Unix time at engine time zero
        var capture = try PacketCapture(path: path, maximumBytes: 1 << 20, epochOffsetNanoseconds: offset)
        let frames = [seededBytes(60, seed: 1), seededBytes(1514, seed: 2), seededBytes(42, seed: 3)]
        let times = [Instant(nanoseconds: 0), Instant(nanoseconds: 1_999_999_800), Instant(nanoseconds: 3_000_000_001)]
        for (frame, time) in zip(frames, times) { Self.record(&capture, frame, at: time) }
        #expect(capture.framesCaptured == 3)
        #expect(capture.framesNotCaptured == 0)
        capture.finish()

        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(file.count == 24 + 3 * 16 + 60 + 1514 + 42)
        #expect(Array(file[0..<4]) == [0x4D, 0x3C, 0xB2, 0xA1], "nanosecond magic, little-endian host")
        #expect(Self.u16(file, 4) == 2 && Self.u16(file, 6) == 4, "version 2.4")
        #expect(Self.u32(file, 8) == 0 && Self.u32(file, 12) == 0, "thiszone, sigfigs")
        #expect(Self.u32(file, 16) == 65535, "snapshot length")
        #expect(Self.u32(file, 20) == 1, "LINKTYPE_ETHERNET")
        let records = try #require(Self.records(file))
        #expect(records == [
            Record(seconds: 1_700_000_000, nanoseconds: 250, bytes: frames[0]),
            Record(seconds: 1_700_000_002, nanoseconds: 50, bytes: frames[1]),
            Record(seconds: 1_700_000_003, nanoseconds: 251, bytes: frames[2]),
        ])
    }

    @Test func stopsAtTheSizeLimitAndCountsWhatItLeftOut() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Room for the header and two 60-byte frames, and 30 bytes more.
        var capture = try PacketCapture(path: path, maximumBytes: 24 + 2 * 76 + 30, epochOffsetNanoseconds: 0)
        for seed in 1...4 { Self.record(&capture, seededBytes(60, seed: UInt64(seed)), at: .zero) }
        Self.record(&capture, seededBytes(14, seed: 5), at: .zero)  // 30 bytes: still fits exactly
        Self.record(&capture, seededBytes(1, seed: 6), at: .zero)
        #expect(capture.framesCaptured == 3)
        #expect(capture.framesNotCaptured == 3)
        capture.finish()
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(file.count == 24 + 2 * 76 + 30)
        let records = try #require(Self.records(file))
        #expect(records.map(\.bytes) == [seededBytes(60, seed: 1), seededBytes(60, seed: 2), seededBytes(14, seed: 5)])

        // A limit below the header still writes the header, and nothing else.
        var tiny = try PacketCapture(path: path, maximumBytes: 0, epochOffsetNanoseconds: 0)
        Self.record(&tiny, [1, 2, 3], at: .zero)
        #expect(tiny.framesNotCaptured == 1)
        tiny.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 24)
    }

    @Test func recordsBeyondOneBufferReachTheFileInOrder() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var capture = try PacketCapture(path: path, maximumBytes: 1 << 30, epochOffsetNanoseconds: 0, bufferSize: 0)
        let frames = (0..<200).map { seededBytes(1000 + $0, seed: UInt64($0)) }  // ~300 KB, several buffers
        for (index, frame) in frames.enumerated() {
            Self.record(&capture, frame, at: Instant(nanoseconds: UInt64(index) * 1_000))
        }
        capture.finish()
        let records = try #require(Self.records(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))))
        #expect(records.map(\.bytes) == frames)
        #expect(records.map(\.nanoseconds) == (0..<200).map { UInt32($0 * 1_000) })
    }

    /// The gratuitous ARPs a core sends as its port comes up go before its first
    /// iteration; they were stamped at the clock's origin (the machine's boot).
    @Test func framesSentBeforeTheFirstIterationAreStampedWithTheEnginesCreation() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let link = VirtualLink(seed: 3)
        let start = Instant(nanoseconds: 7_000_000_000)
        var engine = Engine(device: link.makePort(macAddress: TCPTestNetwork.clientMAC),
                            configuration: EngineConfiguration(address: IPv4Network(address: TCPTestNetwork.clientIP,
                                                                                    prefixLength: 24)),
                            now: start)
        engine.capture = try PacketCapture(path: path, maximumBytes: 1 << 20, epochOffsetNanoseconds: 0)
        engine.announceAddress(now: start)
        engine.releaseAll()  // closes the file
        let records = try #require(Self.records(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))))
        #expect(records.map(\.seconds) == [7])
    }

    @Test func engineCapturesWhatItReceivesAndSends() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var net = SocketTestNetwork()
        net.link.now = Instant(nanoseconds: 1_000_000_000)
        net.client.engine.capture = try PacketCapture(path: path, maximumBytes: 1 << 20, epochOffsetNanoseconds: 0)
        let (_, server, client) = try net.establish()
        #expect(try net.client.send(client, Array("captured".utf8)) == 8)
        net.settle()
        #expect(net.server.drain(server).bytes == Array("captured".utf8))
        let captured = try #require(net.client.engine.capture?.framesCaptured)
        net.client.releaseAll()  // closes the file
        #expect(net.client.engine.capture == nil)
        let statistics = net.client.engine.statistics
        #expect(captured == statistics.receivedFrames + statistics.transmittedFrames)
        #expect(captured >= 5, "SYN, SYN-ACK, ACK, data, ACK")
        let records = try #require(Self.records(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))))
        #expect(UInt64(records.count) == captured)
        #expect(records.first?.seconds == 1, "stamped with the engine's clock")
        #expect(records.contains { $0.bytes.count > 54 && $0.bytes.suffix(8) == Array("captured".utf8) })

        // If tshark is installed, it must read the file as Ethernet/IPv4/TCP.
        let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tshark else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tshark)
        process.arguments = ["-n", "-r", path, "-T", "fields", "-e", "frame.protocols"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let protocols = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(protocols.count == records.count)
        #expect(protocols.allSatisfy { $0.hasPrefix("eth:ethertype:ip:tcp") }, "\(protocols)")
    }
}
