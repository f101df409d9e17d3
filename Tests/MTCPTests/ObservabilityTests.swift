import Foundation
import Testing
@testable import MTCP
import MTCPRuntime

/// Two cores' snapshots with distinct values in every field the tests look at.
private func snapshots(scale: UInt64 = 1) -> [CoreSnapshot] {
    (0..<2).map { core in
        var snapshot = CoreSnapshot(core: core)
        let factor = UInt64(core + 1) * scale
        snapshot.engine.receivedFrames = 1000 * factor
        snapshot.engine.receivedBytes = 125_000_000 * factor
        snapshot.engine.transmittedFrames = 500 * factor
        snapshot.engine.transmittedBytes = 62_500_000 * factor
        snapshot.engine.arpRepliesSent = 3
        snapshot.engine.drops[.ipv4BadChecksum] = 7 * factor
        snapshot.engine.drops[.noRoute] = 2 * factor
        snapshot.tcp.established = 100 * factor
        snapshot.tcp.retransmittedSegments = 4 * factor
        snapshot.tcp.resetsReceived = 5 * factor
        snapshot.tcp.resetsSent = 6 * factor
        snapshot.connections = 10 * (core + 1)
        snapshot.connectionCapacity = 1000
        snapshot.sockets = 12 * (core + 1)
        snapshot.framesCaptured = 9 * factor
        return snapshot
    }
}

/// One sample line of the text exposition: `name{label="value",...} number`.
private struct Sample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double

    /// Parses a sample line strictly (names, quoted label values, a number).
    init?(_ line: String) {
        let isNameStart: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0 == "_" || $0 == ":") }
        let isName: (Character) -> Bool = { isNameStart($0) || ($0.isASCII && $0.isNumber) }
        var rest = Substring(line)
        guard let first = rest.first, isNameStart(first) else { return nil }
        name = String(rest.prefix(while: isName))
        rest = rest.dropFirst(name.count)
        labels = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(rest.prefix(while: isName))
                guard !label.isEmpty, rest.dropFirst(label.count).hasPrefix("=\"") else { return nil }
                rest = rest.dropFirst(label.count + 2)
                guard let end = rest.firstIndex(of: "\"") else { return nil }
                let value = String(rest[..<end])
                guard !value.contains("\\"), labels.updateValue(value, forKey: label) == nil else { return nil }
                rest = rest[rest.index(after: end)...]
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { return nil }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " ", let value = Double(rest.dropFirst()) else { return nil }
        self.value = value
    }
}

@Suite struct PrometheusExpositionTests {
    @Test func rendersValidTextExpositionWithASamplePerCore() throws {
        let text = PrometheusExposition.render(snapshots())
        #expect(text.hasSuffix("\n"))
        var types: [String: String] = [:]
        var helps: Set<String> = []
        var samples: [Sample] = []
        var familyOrder: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1)
                #expect(parts.count == 2 && !parts[1].isEmpty, "HELP without text: \(line)")
                #expect(helps.insert(String(parts[0])).inserted, "HELP twice: \(line)")
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                #expect(parts.count == 2 && ["counter", "gauge"].contains(parts[1]), "bad TYPE: \(line)")
                let name = String(parts[0])
                #expect(types.updateValue(String(parts[1]), forKey: name) == nil, "family twice: \(name)")
                #expect(helps.contains(name), "TYPE before HELP: \(name)")
                familyOrder.append(name)
            } else {
                let sample = try #require(Sample(String(line)), "not a sample line: \(line)")
                // A sample belongs to the family announced last (a family is one group).
                #expect(sample.name == familyOrder.last, "\(sample.name) outside its family")
                if types[sample.name] == "counter" { #expect(sample.name.hasSuffix("_total")) }
                samples.append(sample)
            }
        }
        #expect(helps == Set(types.keys))

        // Every family but the drops has one sample per core, labelled by core.
        let drops = "mtcp_dropped_frames_total"
        for family in familyOrder where family != drops {
            let cores = samples.filter { $0.name == family }.map { $0.labels }
            #expect(cores == [["core": "0"], ["core": "1"]], "\(family): \(cores)")
        }
        #expect(familyOrder.count == EngineStatistics.counters.count + TCPStatistics.counters.count + 6)
        // Drops: every reason on every core, as a label.
        let dropSamples = samples.filter { $0.name == drops }
        #expect(dropSamples.count == 2 * DropReason.allCases.count)
        #expect(Set(dropSamples.compactMap { $0.labels["reason"] }) == Set(DropReason.allCases.map { "\($0)" }))

        // Values come back.
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value("mtcp_received_frames_total", ["core": "1"]) == 2000)
        #expect(value("mtcp_transmitted_bytes_total", ["core": "0"]) == 62_500_000)
        #expect(value("mtcp_tcp_established_total", ["core": "1"]) == 200)
        #expect(value(drops, ["core": "1", "reason": "ipv4_bad_checksum"]) == 14)
        #expect(value(drops, ["core": "0", "reason": "no_route"]) == 2)
        #expect(value(drops, ["core": "0", "reason": "arp_cache_full"]) == 0)
        #expect(value("mtcp_connections", ["core": "1"]) == 20)
        #expect(types["mtcp_connections"] == "gauge")
        #expect(value("mtcp_sockets", ["core": "0"]) == 12)
        #expect(value("mtcp_captured_frames_total", ["core": "1"]) == 18)
    }

    @Test func parserRejectsMalformedLines() {
        // The parser above must be able to fail, or the test proves nothing.
        #expect(Sample("mtcp_x{core=\"0\"} 1") != nil)
        #expect(Sample("mtcp_x{core=0} 1") == nil)
        #expect(Sample("mtcp_x{core=\"0\"}1") == nil)
        #expect(Sample("mtcp x 1") == nil)
        #expect(Sample("mtcp_x{core=\"0\",core=\"1\"} 1") == nil)
        #expect(Sample("mtcp_x{core=\"0\"} one") == nil)
    }
}

@Suite struct StatisticsPrinterTests {
    @Test func ratesOverTheIntervalWithATotalLine() throws {
        var printer = StatisticsPrinter()
        let start = Instant(nanoseconds: 5_000_000_000)
        let first = printer.lines(snapshots(), now: start)
        #expect(first == nil, "no rates the first time")
        // Two seconds later every counter has doubled: each core added its own values.
        let second = printer.lines(snapshots(scale: 2), now: start + .seconds(2))
        let lines = try #require(second)
        #expect(lines.count == 3)
        #expect(lines[0] == "[core 0] flows 10/1000 | RX 500 pps 0.500 Gbps | TX 250 pps 0.250 Gbps | new 50/s"
                + " | drops 9 | retx 4 | resets in 5 out 6")
        #expect(lines[1] == "[core 1] flows 20/1000 | RX 1000 pps 1.000 Gbps | TX 500 pps 0.500 Gbps | new 100/s"
                + " | drops 18 | retx 8 | resets in 10 out 12")
        #expect(lines[2] == "[ALL] flows 30/2000 | RX 1500 pps 1.500 Gbps | TX 750 pps 0.750 Gbps | new 150/s"
                + " | drops 27 | retx 12 | resets in 15 out 18")
        // Nothing changed over the next second: zero rates.
        let third = printer.lines(snapshots(scale: 2), now: start + .seconds(3))
        let idle = try #require(third)
        #expect(idle[2] == "[ALL] flows 30/2000 | RX 0 pps 0.000 Gbps | TX 0 pps 0.000 Gbps | new 0/s"
                + " | drops 0 | retx 0 | resets in 0 out 0")
        // No time passed: no rates.
        let fourth = printer.lines(snapshots(scale: 2), now: start + .seconds(3))
        #expect(fourth == nil)
    }

    @Test func oneCoreHasNoTotalLineAndACoreCountChangeStartsOver() throws {
        var printer = StatisticsPrinter()
        let one = Array(snapshots().prefix(1))
        let first = printer.lines(one, now: .zero + .seconds(1))
        #expect(first == nil)
        var later = one
        later[0].engine.receivedBytes += 1_000  // 8 kbit in 1 s: 0.000008 Gbps, rounds to 0.000
        later[0].engine.receivedFrames += 3
        let second = printer.lines(later, now: .zero + .seconds(2))
        let lines = try #require(second)
        #expect(lines.count == 1)
        #expect(lines[0].hasPrefix("[core 0] flows 10/1000 | RX 3 pps 0.000 Gbps | TX 0 pps"))
        let third = printer.lines(snapshots(), now: .zero + .seconds(3))
        #expect(third == nil, "two cores now: no previous lines")
        let fourth = printer.lines(snapshots(), now: .zero + .seconds(4))
        #expect(fourth?.count == 3)
    }
}

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
