import Histogram
import MTCP
import Testing

@testable import mtcp_loadgen

/// HdrHistogram's compressed V2 encoding: what is decoded is what was recorded.
@Suite struct HistogramEncodingTests {
    static func histogram(_ values: [(UInt64, UInt64)]) -> Histogram<UInt64> {
        var histograms = LatencyHistograms(entries: 0)
        for (value, count) in values { _ = histograms.latency.record(value, count: count) }
        return histograms.latency
    }

    @Test func aDecodedHistogramHasEveryBucketOfTheEncodedOne() throws {
        // Values across many buckets (1 ns to 100 s), runs of empty buckets between them, and large counts.
        var values: [(UInt64, UInt64)] = [(1, 3), (2, 1), (2047, 5), (2048, 9), (123_456, 1 << 40),
                                          (LatencyHistograms.highestNanoseconds, 2)]
        for step in 0..<300 { values.append((10_000 + UInt64(step) * 7919, UInt64(step % 5 + 1))) }
        let original = Self.histogram(values)
        let decoded = try HistogramEncoding.decode(HistogramEncoding.encode(original))
        #expect(decoded == original)
        #expect(decoded.totalCount == original.totalCount)
        for percentile in [50.0, 90, 99, 99.9] {
            #expect(decoded.valueAtPercentile(percentile) == original.valueAtPercentile(percentile))
        }
        // The encoding keeps buckets, not the exact highest value: the highest bucket's top.
        #expect(decoded.max == original.max)
    }

    @Test func anEmptyHistogramRoundTrips() throws {
        let empty = LatencyHistograms(entries: 0).latency
        #expect(try HistogramEncoding.decode(HistogramEncoding.encode(empty)).totalCount == 0)
    }

    @Test func theBucketIndexAndItsValueAgree() {
        let layout = BucketLayout(lowest: 1, digits: 3)
        #expect(layout.index(of: 1) == 1)
        #expect(layout.index(of: 2047) == 2047)
        #expect(layout.index(of: 2048) == 2048)  // the first slot of the second bucket
        #expect(layout.index(of: 2049) == 2048)  // twice as wide
        for index in [0, 1, 1023, 1024, 2047, 2048, 3071, 3072, 40_000] {
            #expect(layout.index(of: layout.value(at: index)) == index)
            #expect(layout.index(of: layout.highestValue(at: index)) == index)
            #expect(layout.index(of: layout.highestValue(at: index) + 1) == index + 1)
        }
    }

    @Test(arguments: ["", "not base64!", "HISTFAAAAB54nJNpmSzMwMDAwwABzFCaEUzOmQQRAQA8zAXb"])
    func badInputIsRefused(_ text: String) {
        #expect(throws: HistogramDecodingError.self) { try HistogramEncoding.decode(text) }
    }
}

/// `merge`: runs added exactly.
@Suite struct RunMergeTests {
    static func sample(_ unixSecond: Int, _ completed: Int, seconds: Double = 1) -> SecondSample {
        SecondSample(second: 0, startSeconds: 0, seconds: seconds, partial: seconds < 1, completed: completed,
                     errors: 0, bytesRead: completed * 100, openConnections: 4, unixSecond: unixSecond)
    }

    /// A run's report as `--json` writes it, read back as `merge` reads it.
    static func run(latencies: [UInt64], completed: Int, errors: Int, from start: Double, elapsed: Double,
                    series: [SecondSample]) throws -> RunRecord {
        var histograms = LatencyHistograms(entries: 1)
        for latency in latencies { histograms.recordLatency(.microseconds(latency), entry: 0) }
        var counts = LoadCounts()
        counts.attempted = completed + errors
        counts.completed = completed
        counts.errors[.readTimeout] = errors
        counts.bytesRead = completed * 100
        counts.connectionsOpened = completed + errors
        let setup = JSONReport.Setup(url: "http://198.18.0.1/", urls: ["http://198.18.0.1/"], cores: 1, connections: 8,
                                     requestsPerConnection: 1, openLoopRate: nil, durationSeconds: elapsed,
                                     totalRequests: nil, warmupSeconds: 0)
        let report = JSONReport(setup: setup, tls: false, counts: counts, histograms: histograms, elapsedSeconds: elapsed,
                                perSecond: series, busyPercentByCore: [50], measuredFromUnixSeconds: start)
        return try RunRecord(json: Array(report.text().utf8))
    }

    @Test func countsAddAndPercentilesComeFromTheMergedHistogram() throws {
        // 90 fast requests on one host, 10 slow ones on the other: the merged p90 is
        // fast and the p99 slow, which no average of the two runs' percentiles gives.
        let fast = try Self.run(latencies: Array(repeating: 100, count: 90), completed: 90, errors: 1,
                                from: 1000.5, elapsed: 2, series: [Self.sample(1000, 40, seconds: 0.5),
                                                                   Self.sample(1001, 30), Self.sample(1002, 20, seconds: 0.5)])
        let slow = try Self.run(latencies: Array(repeating: 10_000, count: 10), completed: 10, errors: 2,
                                from: 1001, elapsed: 2, series: [Self.sample(1001, 4), Self.sample(1002, 6)])
        let merged = try RunMerge([fast, slow]).report
        #expect(merged.completed == 100)
        #expect(merged.attempted == 103)
        #expect(merged.errors["read_timeout"] == 3)
        #expect(merged.bytesRead == 10_000)
        #expect(merged.setup.connections == 16)
        #expect(merged.setup.mergedRuns == 2)
        #expect(merged.latencyMicroseconds.count == 100)
        #expect(abs(merged.latencyMicroseconds.p90 - 100) <= 0.1)
        #expect(abs(merged.latencyMicroseconds.p99 - 10_000) <= 10)
        #expect(merged.latencyMicrosecondsByURL.first?.latency.count == 100)
        // From the earliest start (1000.5) to the latest end (1003).
        #expect(merged.elapsedSeconds == 2.5)
        #expect(merged.perSecond.map(\.unixSecond) == [1000, 1001, 1002])
        #expect(merged.perSecond.map(\.completed) == [40, 34, 26])
        #expect(merged.perSecond.map(\.partial) == [true, false, false])
        #expect(merged.perSecond.map(\.openConnections) == [4, 8, 8])
    }

    @Test func aMergedReportMergesAgain() throws {
        let first = try Self.run(latencies: [100, 200], completed: 2, errors: 0, from: 1000, elapsed: 1,
                                 series: [Self.sample(1000, 2)])
        let second = try Self.run(latencies: [300], completed: 1, errors: 0, from: 1000, elapsed: 1,
                                  series: [Self.sample(1000, 1)])
        let third = try Self.run(latencies: [400], completed: 1, errors: 0, from: 1000, elapsed: 1,
                                 series: [Self.sample(1000, 1)])
        let pair = try RunRecord(json: Array(RunMerge([first, second]).report.text().utf8))
        let all = try RunMerge([pair, third]).report
        let direct = try RunMerge([first, second, third]).report
        #expect(all.completed == 4)
        #expect(all.setup.mergedRuns == 3)
        #expect(all.histograms.latency == direct.histograms.latency)
        #expect(all.perSecond == direct.perSecond)
    }
}
