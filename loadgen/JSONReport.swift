import Foundation

/// `--json FILE`: the summary's figures and the per-second series, for
/// scripts and plots. Times in microseconds (with nanosecond digits), rates per second. The only use of
/// Foundation in the load generator, after the run.
struct JSONReport: Encodable {
    struct Setup: Encodable {
        var url: String
        var urls: [String]
        var cores: Int
        var connections: Int
        var requestsPerConnection: Int
        var openLoopRate: Double?
        var durationSeconds: Double?
        var totalRequests: Int?
        var warmupSeconds: Double
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

    struct TLSFigures: Encodable {
        var handshakesFull: Int
        var handshakesResumed: Int
        var handshakeFailures: Int
        var handshakesPerSecond: Double
    }

    struct LatencyIncludes: Encodable {
        var completed: Int
        /// At their timeout.
        var timedOut: Int
        /// At the run's end.
        var unfinished: Int
    }

    struct URLFigures: Encodable {
        var url: String
        var latency: Figures
    }

    init(result: LoadResult, url: String) {
        let plan = result.plan
        setup = Setup(url: url, urls: plan.workload.entries.map(\.target.url), cores: result.cores,
                      connections: plan.concurrency, requestsPerConnection: plan.requestsPerConnection,
                      openLoopRate: plan.rate, durationSeconds: plan.duration.map { Double($0.nanoseconds) / 1e9 },
                      totalRequests: plan.totalRequests, warmupSeconds: Double(plan.warmup.nanoseconds) / 1e9)
        let counts = result.counts
        scheduled = counts.scheduled
        attempted = counts.attempted
        shortfall = counts.shortfall
        offeredRateAchieved = plan.rate.map { _ in counts.shortfall == 0 }
        completed = counts.completed
        unfinished = counts.unfinished
        inFlightAtEnd = counts.inFlightAtEnd
        latencyIncludes = LatencyIncludes(completed: counts.completed, timedOut: counts.timedOut,
                                          unfinished: counts.unfinished)
        warmupRequests = counts.warmup
        errors = Dictionary(uniqueKeysWithValues: ErrorClass.allCases.map { ($0.name, counts.errors[$0]) })
        elapsedSeconds = result.elapsedSeconds
        requestsPerSecond = result.requestsPerSecond
        bytesRead = counts.bytesRead
        bytesPerSecond = result.bytesPerSecond
        connectionsOpened = counts.connectionsOpened
        latencyMicroseconds = Figures(Distribution(result.histograms.latency))
        latencyMicrosecondsByURL = zip(plan.workload.entries, result.histograms.latencyByEntry).map {
            URLFigures(url: $0.target.url, latency: Figures(Distribution($1)))
        }
        connectMicroseconds = Figures(Distribution(result.histograms.connect))
        firstByteMicroseconds = Figures(Distribution(result.histograms.firstByte))
        if plan.tls {
            tls = TLSFigures(handshakesFull: counts.tlsFullHandshakes, handshakesResumed: counts.tlsResumedHandshakes,
                             handshakeFailures: counts.errors[.tlsHandshake],
                             handshakesPerSecond: result.handshakesPerSecond)
            handshakeMicroseconds = Figures(Distribution(result.histograms.handshake))
        }
        perSecond = result.series
        busyPercentByCore = result.busyPercentByCore
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
