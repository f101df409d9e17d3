import Foundation

/// `--json FILE`: the summary's figures and the per-second series, for
/// scripts and plots. Times in microseconds (with nanosecond digits), rates per second.
/// It also carries what `merge` needs to add runs exactly: every histogram in
/// HdrHistogram's encoding (`histograms`, and each URL's), and Unix time (the
/// measurement's start, each second of the series). Foundation is used only
/// after the run (here and in the merge).
struct JSONReport: Encodable {
    struct Setup: Codable {
        var url: String
        var urls: [String]
        var cores: Int
        var connections: Int
        var requestsPerConnection: Int
        var openLoopRate: Double?
        var durationSeconds: Double?
        var totalRequests: Int?
        var warmupSeconds: Double
        /// How many runs `merge` added up (nil for one run).
        var mergedRuns: Int?
    }

    /// HdrHistogram's compressed V2 encoding of each distribution, in base64,
    /// nanoseconds (`HistogramEncoding`).
    struct EncodedHistograms: Codable {
        var latency: String
        var connect: String
        var firstByte: String
        var handshake: String?
    }

    struct Figures: Encodable {
        var count: UInt64
        var mean: Double
        var stdev: Double
        var max: Double
        var p50: Double
        var p90: Double
        var p99: Double
        var p99_9: Double

        init(_ distribution: Distribution) {
            count = distribution.count
            mean = distribution.mean
            stdev = distribution.standardDeviation
            max = distribution.max
            let values = distribution.percentiles.map(\.value)
            (p50, p90, p99, p99_9) = (values[0], values[1], values[2], values[3])
        }
    }

    var setup: Setup
    /// Measured requests: `attempted + shortfall = completed + errors + unfinished`.
    var scheduled: Int
    /// Measured requests sent (or a connection opened for them).
    var attempted: Int
    /// Open loop: requests due before the end that were never sent.
    var shortfall: Int
    /// Open loop: false when some scheduled requests were never sent.
    var offeredRateAchieved: Bool?
    var completed: Int
    /// In flight at the end, plus the shortfall.
    var unfinished: Int
    var inFlightAtEnd: Int
    /// What the latency distribution holds besides completed requests.
    var latencyIncludes: LatencyIncludes
    var warmupRequests: Int
    var errors: [String: Int]
    var elapsedSeconds: Double
    var requestsPerSecond: Double
    var bytesRead: Int
    var bytesPerSecond: Double
    var connectionsOpened: Int
    var latencyMicroseconds: Figures
    var connectMicroseconds: Figures
    var firstByteMicroseconds: Figures
    /// With TLS: the handshakes and their times.
    var tls: TLSFigures?
    var handshakeMicroseconds: Figures?
    /// Request latency of each URL of the workload, in the workload's order.
    var latencyMicrosecondsByURL: [URLFigures]
    var perSecond: [SecondSample]
    /// Each core's share of time in loop iterations that did work, over the whole run.
    var busyPercentByCore: [Double?]
    /// When the measurement began, in Unix time (seconds).
    var measuredFromUnixSeconds: Double?
    var histograms: EncodedHistograms

    struct TLSFigures: Codable {
        var handshakesFull: Int
        var handshakesResumed: Int
        var handshakeFailures: Int
        var handshakesPerSecond: Double
    }

    struct LatencyIncludes: Codable {
        var completed: Int
        /// At their timeout.
        var timedOut: Int
        /// At the run's end.
        var unfinished: Int
    }

    struct URLFigures: Encodable {
        var url: String
        var latency: Figures
        var histogram: String
    }

    init(result: LoadResult, url: String) {
        let plan = result.plan
        let setup = Setup(url: url, urls: plan.workload.entries.map(\.target.url), cores: result.cores,
                          connections: plan.concurrency, requestsPerConnection: plan.requestsPerConnection,
                          openLoopRate: plan.rate, durationSeconds: plan.duration.map { Double($0.nanoseconds) / 1e9 },
                          totalRequests: plan.totalRequests, warmupSeconds: Double(plan.warmup.nanoseconds) / 1e9)
        let measuredFromUnix = result.measuredFrom.map { Double(Int64($0.nanoseconds) + plan.wallClockOffset) / 1e9 }
        self.init(setup: setup, tls: plan.tls, counts: result.counts, histograms: result.histograms,
                  elapsedSeconds: result.elapsedSeconds, perSecond: result.series,
                  busyPercentByCore: result.busyPercentByCore, measuredFromUnixSeconds: measuredFromUnix)
    }

    /// A report of `counts` and `histograms` (one run's, or several added up by
    /// `merge`), the latency of each of `setup.urls` in `histograms.latencyByEntry`.
    init(setup: Setup, tls: Bool, counts: LoadCounts, histograms: LatencyHistograms, elapsedSeconds: Double,
         perSecond: [SecondSample], busyPercentByCore: [Double?], measuredFromUnixSeconds: Double?) {
        self.setup = setup
        scheduled = counts.scheduled
        attempted = counts.attempted
        shortfall = counts.shortfall
        offeredRateAchieved = setup.openLoopRate.map { _ in counts.shortfall == 0 }
        completed = counts.completed
        unfinished = counts.unfinished
        inFlightAtEnd = counts.inFlightAtEnd
        latencyIncludes = LatencyIncludes(completed: counts.completed, timedOut: counts.timedOut,
                                          unfinished: counts.unfinished)
        warmupRequests = counts.warmup
        errors = Dictionary(uniqueKeysWithValues: ErrorClass.allCases.map { ($0.name, counts.errors[$0]) })
        self.elapsedSeconds = elapsedSeconds
        func rate(_ count: Int) -> Double { elapsedSeconds > 0 ? Double(count) / elapsedSeconds : 0 }
        requestsPerSecond = rate(counts.completed)
        bytesRead = counts.bytesRead
        bytesPerSecond = rate(counts.bytesRead)
        connectionsOpened = counts.connectionsOpened
        latencyMicroseconds = Figures(Distribution(histograms.latency))
        latencyMicrosecondsByURL = zip(setup.urls, histograms.latencyByEntry).map {
            URLFigures(url: $0, latency: Figures(Distribution($1)), histogram: HistogramEncoding.encode($1))
        }
        connectMicroseconds = Figures(Distribution(histograms.connect))
        firstByteMicroseconds = Figures(Distribution(histograms.firstByte))
        if tls {
            self.tls = TLSFigures(handshakesFull: counts.tlsFullHandshakes, handshakesResumed: counts.tlsResumedHandshakes,
                                  handshakeFailures: counts.errors[.tlsHandshake],
                                  handshakesPerSecond: rate(counts.tlsFullHandshakes + counts.tlsResumedHandshakes))
            handshakeMicroseconds = Figures(Distribution(histograms.handshake))
        }
        self.perSecond = perSecond
        self.busyPercentByCore = busyPercentByCore
        self.measuredFromUnixSeconds = measuredFromUnixSeconds
        self.histograms = EncodedHistograms(latency: HistogramEncoding.encode(histograms.latency),
                                            connect: HistogramEncoding.encode(histograms.connect),
                                            firstByte: HistogramEncoding.encode(histograms.firstByte),
                                            handshake: tls ? HistogramEncoding.encode(histograms.handshake) : nil)
    }

    /// The report as pretty-printed JSON with sorted keys (stable diffs).
    func text() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Encoding plain numbers and strings cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self) + "\n"
    }
}
