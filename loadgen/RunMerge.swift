import ArgumentParser
import Foundation
import Histogram
import MTCP

/// `mtcp-loadgen merge A.json B.json ...`: runs made at the same time (on
/// several hosts, or several loadgens on one) added up exactly. Counts are
/// summed, percentiles come from the merged histograms (never an average of
/// percentiles), and the per-second series are added by Unix second. The
/// result is a report of the same form, so merged reports merge again.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtcp-loadgen merge",
        abstract: "Adds the JSON reports (--json) of runs made at the same time into one.",
        discussion: """
            Counts are summed, latency percentiles are taken from the histograms added bucket by \
            bucket (each report carries them in HdrHistogram's encoding), the per-second series \
            are added by Unix second, and the elapsed time runs from the earliest start to the \
            latest end. Prints the merged figures; --json writes the merged report.
            """)

    @Argument(help: "JSON reports of mtcp-loadgen runs (--json).")
    var reports: [String]

    @Option(help: "Write the merged report as JSON to this file.")
    var json: String?

    func validate() throws {
        guard !reports.isEmpty else { throw ValidationError("give at least one report") }
    }

    func run() throws {
        var runs: [RunRecord] = []
        for path in reports {
            do {
                runs.append(try RunRecord(json: try readFileBytes(path)))
            } catch {
                throw ValidationError("\(path): \(error)")
            }
        }
        let merged = try RunMerge(runs)
        let report = merged.report
        print("merged \(runs.count) run\(runs.count == 1 ? "" : "s"): \(report.completed) completed, "
            + "\(report.errors.values.reduce(0, +)) errors, \(report.unfinished) unfinished in "
            + "\(report.elapsedSeconds) s; latency p50 \(report.latencyMicroseconds.p50) us, "
            + "p99 \(report.latencyMicroseconds.p99) us, p99.9 \(report.latencyMicroseconds.p99_9) us, "
            + "max \(report.latencyMicroseconds.max) us")
        if let json { try writeFileText(json, report.text()) }
    }
}

/// What `merge` reads of a JSON report: the counts and the encoded histograms
/// (the figures derived from them are computed again).
struct RunRecord: Decodable {
    var setup: JSONReport.Setup
    var attempted: Int
    var shortfall: Int
    var completed: Int
    var inFlightAtEnd: Int
    var warmupRequests: Int
    var errors: [String: Int]
    var elapsedSeconds: Double
    var bytesRead: Int
    var connectionsOpened: Int
    var tls: JSONReport.TLSFigures?
    var histograms: JSONReport.EncodedHistograms?
    var latencyMicrosecondsByUrl: [URLHistogram]
    var perSecond: [SecondSample]
    var busyPercentByCore: [Double?]
    var measuredFromUnixSeconds: Double?

    struct URLHistogram: Decodable {
        var url: String
        var histogram: String?
    }

    init(json: [UInt8]) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        self = try decoder.decode(RunRecord.self, from: Data(json))
    }

    /// The run's counts; its instants are Unix time.
    var counts: LoadCounts {
        var counts = LoadCounts()
        counts.attempted = attempted
        counts.shortfall = shortfall
        counts.completed = completed
        counts.inFlightAtEnd = inFlightAtEnd
        counts.warmup = warmupRequests
        counts.bytesRead = bytesRead
        counts.connectionsOpened = connectionsOpened
        counts.tlsFullHandshakes = tls?.handshakesFull ?? 0
        counts.tlsResumedHandshakes = tls?.handshakesResumed ?? 0
        for kind in ErrorClass.allCases {
            // A decoder converting keys from snake case converts the dictionary's too.
            counts.errors[kind] = errors[kind.name] ?? errors["\(kind)"] ?? 0
        }
        counts.lastMeasured = measuredUntil
        counts.finished = true
        return counts
    }

    var measuredFrom: Instant { Instant(nanoseconds: UInt64(((measuredFromUnixSeconds ?? 0) * 1e9).rounded())) }
    var measuredUntil: Instant { measuredFrom + TimeSpan(nanoseconds: UInt64((elapsedSeconds * 1e9).rounded())) }
}

/// Several runs added up (`MergeCommand`).
struct RunMerge {
    let report: JSONReport

    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    init(_ runs: [RunRecord]) throws {
        guard let first = runs.first else { throw Refusal(description: "nothing to merge") }
        if runs.contains(where: { $0.histograms == nil }) {
            throw Refusal(description: "a report without histograms (written by an older mtcp-loadgen)")
        }
        var urls: [String] = []
        for run in runs { urls += run.setup.urls.filter { !urls.contains($0) } }
        var counts = first.counts
        var histograms = LatencyHistograms(entries: urls.count)
        var seconds = SecondBins()
        for (index, run) in runs.enumerated() {
            if index > 0 { counts = counts + run.counts }
            histograms.add(try Self.histograms(of: run, urls: urls))
            seconds = seconds + SecondBins(samples: run.perSecond)
        }
        let measured = runs.filter { $0.measuredFromUnixSeconds != nil }
        let start = measured.map(\.measuredFrom).min()
        let end = measured.map(\.measuredUntil).max()
        let elapsed = start.flatMap { start in end.map { Double($0.since(start).nanoseconds) / 1e9 } } ?? 0
        report = JSONReport(
            setup: Self.setup(of: runs, urls: urls), tls: runs.contains { $0.tls != nil }, counts: counts,
            histograms: histograms, elapsedSeconds: elapsed,
            perSecond: start.flatMap { start in end.map { seconds.samples(from: start, to: $0) } } ?? [],
            busyPercentByCore: runs.flatMap(\.busyPercentByCore),
            measuredFromUnixSeconds: start.map { Double($0.nanoseconds) / 1e9 })
    }

    /// A run's distributions, its URLs' latencies placed at their index in `urls`.
    private static func histograms(of run: RunRecord, urls: [String]) throws -> LatencyHistograms {
        let encoded = run.histograms!
        var histograms = LatencyHistograms(entries: urls.count)
        histograms.latency = try HistogramEncoding.decode(encoded.latency)
        histograms.connect = try HistogramEncoding.decode(encoded.connect)
        histograms.firstByte = try HistogramEncoding.decode(encoded.firstByte)
        if let handshake = encoded.handshake { histograms.handshake = try HistogramEncoding.decode(handshake) }
        for entry in run.latencyMicrosecondsByUrl {
            guard let histogram = entry.histogram, let index = urls.firstIndex(of: entry.url) else { continue }
            histograms.latencyByEntry[index] = try HistogramEncoding.decode(histogram)
        }
        return histograms
    }

    /// What the runs were together: their cores, connections and rates added up.
    private static func setup(of runs: [RunRecord], urls: [String]) -> JSONReport.Setup {
        let setups = runs.map(\.setup)
        func sum<Value: AdditiveArithmetic>(_ values: [Value?]) -> Value? {
            values.contains { $0 == nil } ? nil : values.reduce(.zero) { $0 + $1! }
        }
        return JSONReport.Setup(
            url: setups[0].url, urls: urls, cores: setups.map(\.cores).reduce(0, +),
            connections: setups.map(\.connections).reduce(0, +),
            requestsPerConnection: setups[0].requestsPerConnection, openLoopRate: sum(setups.map(\.openLoopRate)),
            durationSeconds: setups.compactMap(\.durationSeconds).max(), totalRequests: sum(setups.map(\.totalRequests)),
            warmupSeconds: setups.map(\.warmupSeconds).max() ?? 0,
            mergedRuns: setups.map { $0.mergedRuns ?? 1 }.reduce(0, +))
    }
}
