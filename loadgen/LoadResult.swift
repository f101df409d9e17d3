import Histogram
import MTCP

/// The figures of a finished HTTP run, gathered from all cores: what the
/// summary prints and the JSON report holds.
struct LoadResult {
    let plan: HTTPPlan
    let cores: Int
    let counts: LoadCounts
    let histograms: LatencyHistograms
    /// When measurement began (the first core's start plus the warm-up).
    let measuredFrom: Instant?
    /// The per-second series: measured requests by the clock second they ended in.
    let seconds: SecondBins
    /// Cores that failed to start or run.
    let failures: [String]
    /// Each core's busy share over the whole run (start-up and warm-up included), in percent.
    var busyPercentByCore: [Double?] = []

    /// Seconds from the start of measurement to the end of the last measured request.
    var elapsedSeconds: Double {
        guard let measuredFrom, counts.lastMeasured > measuredFrom else { return 0 }
        return Double(counts.lastMeasured.since(measuredFrom).nanoseconds) / 1e9
    }

    /// The series over the measured time, partial first and last intervals marked.
    var series: [SecondSample] {
        guard let measuredFrom else { return [] }
        return seconds.samples(from: measuredFrom, to: counts.lastMeasured)
    }

    var requestsPerSecond: Double { elapsedSeconds > 0 ? Double(counts.completed) / elapsedSeconds : 0 }
    /// TLS handshakes (full and resumed) of measured requests per second.
    var handshakesPerSecond: Double {
        elapsedSeconds > 0 ? Double(counts.tlsFullHandshakes + counts.tlsResumedHandshakes) / elapsedSeconds : 0
    }
    var bytesPerSecond: Double { elapsedSeconds > 0 ? Double(counts.bytesRead) / elapsedSeconds : 0 }
    var errorRate: Double { counts.attempted > 0 ? Double(counts.errors.total) / Double(counts.attempted) : 0 }

    /// Why the run should exit with a failure status, if it should.
    func failureReason(maximumErrorRate: Double) -> String? {
        if !failures.isEmpty { return "\(failures.count) core(s) failed" }
        if counts.completed == 0 { return "no request completed" }
        if errorRate > maximumErrorRate {
            return "error rate \(errorRate) exceeds --max-error-rate \(maximumErrorRate)"
        }
        return nil
    }
}

/// A distribution's summary in microseconds (the histograms hold nanoseconds),
/// as wrk prints it.
struct Distribution: Equatable {
    var count: UInt64
    var mean: Double
    var standardDeviation: Double
    var max: Double
    /// p50, p90, p99, p99.9.
    var percentiles: [(label: String, value: Double)]

    static let levels: [(String, Double)] = [("50", 50), ("90", 90), ("99", 99), ("99.9", 99.9)]

    init(_ histogram: Histogram<UInt64>) {
        let count = histogram.totalCount
        self.count = count
        mean = count > 0 ? histogram.mean / 1000 : 0
        standardDeviation = count > 0 ? histogram.stdDeviation / 1000 : 0
        max = count > 0 ? Double(histogram.max) / 1000 : 0
        percentiles = Self.levels.map { ($0.0, count > 0 ? Double(histogram.valueAtPercentile($0.1)) / 1000 : 0) }
    }

    static func == (lhs: Distribution, rhs: Distribution) -> Bool {
        lhs.count == rhs.count && lhs.mean == rhs.mean && lhs.max == rhs.max
            && lhs.percentiles.map(\.value) == rhs.percentiles.map(\.value)
    }
}
