import Glibc
import Synchronization
import Testing
@testable import MTCP
@testable import MTCPRuntime

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
        snapshot.outputBacklog = 5 * (core + 1)
        snapshot.framesCaptured = 9 * factor
        snapshot.busyNanoseconds = 1_000_000_000 * factor
        snapshot.idleNanoseconds = 3_000_000_000 * factor
        snapshot.recentBusyPercent = 25 * Double(core + 1)
        snapshot.reloads = (generation: 2 - UInt64(core), failures: UInt64(core))
        return snapshot
    }
}

/// The port's own counters at the same scale.
private func port(scale: UInt64 = 1) -> DeviceStatistics {
    var port = DeviceStatistics()
    port.receivedPackets = 3100 * scale
    port.receiveMissed = 11 * scale
    port.receiveErrors = 2 * scale
    port.transmitErrors = 1 * scale
    port.allocationFailures = 4 * scale
    return port
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
        let text = PrometheusExposition.render(snapshots(), reloads: .init(done: 3, refused: 1), port: port())
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

        // Every family but the drops, the port's and the process's reloads has one sample per core,
        // labelled by core; the port's and the reloads' have one sample without a label.
        let drops = "mtcp_dropped_frames_total"
        let unlabelled = familyOrder.filter { $0.hasPrefix("mtcp_port_") || $0.hasPrefix("mtcp_reloads_") }
        #expect(unlabelled.count == 10)
        for family in unlabelled {
            #expect(samples.filter { $0.name == family }.map { $0.labels } == [[:]], "\(family)")
        }
        for family in familyOrder where family != drops && !unlabelled.contains(family) {
            let cores = samples.filter { $0.name == family }.map { $0.labels }
            #expect(cores == [["core": "0"], ["core": "1"]], "\(family): \(cores)")
        }
        #expect(familyOrder.count == EngineStatistics.counters.count + TCPStatistics.counters.count + 22)
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
        #expect(value("mtcp_reloads_total", [:]) == 3)
        #expect(value("mtcp_reloads_refused_total", [:]) == 1)
        #expect(value("mtcp_port_missed_total", [:]) == 11)
        #expect(value("mtcp_port_received_packets_total", [:]) == 3100)
        #expect(value("mtcp_port_no_mbuf_total", [:]) == 4)
        // Core 1 failed a reload: it runs generation 1 of the 2 core 0 took.
        #expect(value("mtcp_configuration_generation", ["core": "1"]) == 1)
        #expect(value("mtcp_configuration_generation", ["core": "0"]) == 2)
        #expect(types["mtcp_configuration_generation"] == "gauge")
        #expect(value("mtcp_reload_failures_total", ["core": "1"]) == 1)
        #expect(value("mtcp_reload_failures_total", ["core": "0"]) == 0)
        #expect(types["mtcp_connections"] == "gauge")
        #expect(value("mtcp_sockets", ["core": "0"]) == 12)
        #expect(value("mtcp_output_backlog", ["core": "1"]) == 10)
        #expect(types["mtcp_output_backlog"] == "gauge")
        #expect(value("mtcp_captured_frames_total", ["core": "1"]) == 18)
        #expect(value("mtcp_busy_seconds_total", ["core": "1"]) == 2)
        #expect(value("mtcp_idle_seconds_total", ["core": "0"]) == 3)
        #expect(value("mtcp_busy_percent", ["core": "1"]) == 50)
        #expect(types["mtcp_busy_percent"] == "gauge")
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

@Suite struct PortCountersTests {
    @Test func aDriverThatAnswersOnlyZerosKeepsNoCounters() {
        // Zeros before any traffic are counters like any others.
        #expect(DeviceStatistics().kept(engineReceivedFrames: 0) == DeviceStatistics())
        // Zeros once the engines have received frames: the driver counts nothing.
        #expect(DeviceStatistics().kept(engineReceivedFrames: 5) == nil)
        #expect(port().kept(engineReceivedFrames: 5) == port())
        var missedOnly = DeviceStatistics()
        missedOnly.receiveMissed = 1
        #expect(missedOnly.kept(engineReceivedFrames: 5) == missedOnly)
    }
}

@Suite struct StatisticsPrinterTests {
    @Test func ratesOverTheIntervalWithATotalLine() throws {
        var printer = StatisticsPrinter()
        let start = Instant(nanoseconds: 5_000_000_000)
        let first = printer.lines(snapshots(), port: port(), now: start)
        #expect(first == nil, "no rates the first time")
        // Two seconds later every counter has doubled: each core added its own values.
        let second = printer.lines(snapshots(scale: 2), reloads: .init(done: 2, refused: 1), port: port(scale: 2),
                                   now: start + .seconds(2))
        let lines = try #require(second)
        #expect(lines.count == 3)
        // A quarter of each core's time went to iterations that did work.
        #expect(lines[0] == "[core 0] flows 10/1000 | busy 25% | RX 500 pps 0.500 Gbps | TX 250 pps 0.250 Gbps | new 50/s"
                + " | drops 9 | retx 4 | resets in 5 out 6")
        #expect(lines[1] == "[core 1] flows 20/1000 | busy 25% | RX 1000 pps 1.000 Gbps | TX 500 pps 0.500 Gbps | new 100/s"
                + " | drops 18 | retx 8 | resets in 10 out 12")
        #expect(lines[2] == "[ALL] flows 30/2000 | busy 25% | RX 1500 pps 1.500 Gbps | TX 750 pps 0.750 Gbps | new 150/s"
                + " | drops 27 | retx 12 | resets in 15 out 18 | reloads 2 refused 1 | port missed 11 errors 3"
                + " | core 1 runs configuration 1 (reload failures 1)")
        // Nothing changed over the next second: zero rates.
        let third = printer.lines(snapshots(scale: 2), port: port(scale: 2), now: start + .seconds(3))
        let idle = try #require(third)
        #expect(idle[2] == "[ALL] flows 30/2000 | RX 0 pps 0.000 Gbps | TX 0 pps 0.000 Gbps | new 0/s"
                + " | drops 0 | retx 0 | resets in 0 out 0 | reloads 0 refused 0 | port missed 0 errors 0"
                + " | core 1 runs configuration 1 (reload failures 1)")
        // No time passed: no rates.
        let fourth = printer.lines(snapshots(scale: 2), port: port(scale: 2), now: start + .seconds(3))
        #expect(fourth == nil)
        // A port whose counters went back (a driver that restarted them) shows no port figures
        // rather than a wrapped difference; without a read, none either.
        let fifth = printer.lines(snapshots(scale: 2), port: port(), now: start + .seconds(4))
        #expect(try #require(fifth)[2].hasSuffix("| reloads 0 refused 0 | core 1 runs configuration 1 (reload failures 1)"))
        let sixth = printer.lines(snapshots(scale: 2), now: start + .seconds(5))
        #expect(try #require(sixth)[2].hasSuffix("| reloads 0 refused 0 | core 1 runs configuration 1 (reload failures 1)"))
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

@Suite struct ConfigurationReloadTests {
    /// A SIGHUP that arrives after the handler is installed but before the
    /// management thread starts (the ready line is already out: an operator or
    /// systemd may reload at once) is answered, not taken for the starting count.
    @Test func aSignalBeforeTheManagementThreadRunsIsAnswered() async throws {
        ReloadSignal.install()
        // To the process (a thread of the test pool may block signals), as an operator's kill.
        kill(getpid(), SIGHUP)
        for _ in 0..<50 where ReloadSignal.generation == 0 { try await Task.sleep(for: .milliseconds(20)) }
        try #require(ReloadSignal.generation == 1)
        final class Count: Sendable { let value = Atomic<Int>(0) }
        let prepared = Count()
        let management = try ManagementPlane(board: StatisticsBoard(cores: 1), printStatistics: false,
                                             prometheusPort: 0, prepareReload: {
            prepared.value.add(1, ordering: .relaxed)
            return true
        })
        let running = Task.detached { management.run() }
        for _ in 0..<50 where prepared.value.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        management.stop()
        await running.value
        #expect(prepared.value.load(ordering: .relaxed) == 1)
        #expect(ConfigurationReloads.counts.done >= 1)
    }
}

/// One core's side of the reloads: a failure leaves it on the generation it
/// ran, counted and named in the log line; the next reload tries again.
@Suite struct CoreReloadStateTests {
    struct CertificateUnreadable: Error, CustomStringConvertible {
        var description: String { "certificate /x.crt: no such file" }
    }

    @Test func aFailedReloadKeepsTheGenerationAndSaysWhy() {
        var state = CoreReloadState(generation: 1)
        #expect(state.newGeneration(published: 1) == nil, "nothing new")
        let generation = state.newGeneration(published: 2)
        #expect(generation == 2)
        let line = state.failed(2, CertificateUnreadable())
        #expect(line == "reload to configuration 2 failed, still running configuration 1: "
                + "certificate /x.crt: no such file")
        #expect(state.applied == 1)
        #expect(state.failures == 1)
        #expect(state.newGeneration(published: 2) == nil, "a failure is answered once, not retried every tick")
        #expect(state.newGeneration(published: 3) == 3)
        state.succeeded(3)
        #expect(state.applied == 3)
        #expect(state.failures == 1)
    }
}

/// Application samples that share a name with different labels (one per
/// upstream server) form one family, typed as the application says.
@Suite struct LabelledApplicationCounterTests {
    @Test func labelledSamplesAreOneFamilyOnEveryCore() throws {
        let snapshots = (0..<2).map { core in
            var snapshot = CoreSnapshot(core: core)
            snapshot.application = ["198.18.0.2:8080", "198.18.0.2:8081"].enumerated().flatMap { index, server in [
                ApplicationCounter(name: "up", help: "Up", value: UInt64(index), labels: "server=\"\(server)\"", isGauge: true),
                ApplicationCounter(name: "sent", help: "Sent", value: UInt64(10 * core + index), labels: "server=\"\(server)\""),
            ] }
            return snapshot
        }
        let text = PrometheusExposition.render(snapshots)
        #expect(text.components(separatedBy: "# TYPE mtcp_up gauge\n").count == 2)
        #expect(text.components(separatedBy: "# TYPE mtcp_sent_total counter\n").count == 2)
        let lines = text.split(separator: "\n").map(String.init)
        for line in ["mtcp_up{core=\"0\",server=\"198.18.0.2:8081\"} 1", "mtcp_sent_total{core=\"1\",server=\"198.18.0.2:8080\"} 10",
                     "mtcp_sent_total{core=\"1\",server=\"198.18.0.2:8081\"} 11"] {
            #expect(lines.contains(line), "\(line)")
            #expect(Sample(line) != nil, "\(line)")
        }
    }
}
