import MTCP

/// Everything an HTTP run's cores need to know, decided once from the command
/// line before the engines start; each core copies what it uses into memory
/// of its own.
struct HTTPPlan: Sendable {
    var workload: Workload
    /// The prepared request of each workload entry.
    var requests: [[UInt8]]
    /// Per entry, the body every response must carry (`--verify-body`), if checked.
    var expectedBodies: [[UInt8]?]
    /// The SHA-256 every response body must have (`--expect-sha256`), if checked.
    var expectedSHA256: [UInt8]?
    var expectedStatus: UInt16
    /// Requests over all cores; nil: as many as fit in the duration.
    var totalRequests: Int?
    /// How long requests are started after the warm-up; nil: until `totalRequests`.
    var duration: TimeSpan?
    var warmup: TimeSpan
    /// Connections open at once, over all cores.
    var concurrency: Int
    var requestsPerConnection: Int
    /// Open loop: requests per second over all cores; nil: closed loop.
    var rate: Double?
    var connectTimeout: TimeSpan
    var readTimeout: TimeSpan
    var seed: UInt64
    /// Every connection speaks TLS (`--tls`, or an https:// URL).
    var tls = false
    /// Connections offer the session of an earlier one (`--tls-resume`).
    var tlsResume = false
    /// Unix time minus the monotonic clock, in nanoseconds: the per-second
    /// series is kept in Unix seconds (`SecondBins`).
    var wallClockOffset: Int64 = 0

    /// Refuses fewer connections than cores: each core opens at least one, so
    /// the run would open more than `-c` while its summary printed `-c`.
    func check(cores: Int) throws(LoadgenError) {
        guard concurrency >= cores else {
            throw LoadgenError("-c \(concurrency) is less than the \(cores) cores: each core needs a connection "
                + "(raise -c or lower -N)")
        }
    }
}

/// Core `core`'s share of `count` split over `cores`: the first `count % cores` get one more.
func share(_ count: Int, _ core: Int, _ cores: Int) -> Int {
    count / cores + (core < count % cores ? 1 : 0)
}
