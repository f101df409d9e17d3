import MTCP

/// One core's running counts, published to the `LoadBoard` a few times a
/// second. Requests that start (or, open loop, are scheduled to start) during
/// the warm-up count only in `warmup`; every other request is `scheduled` and
/// ends up in exactly one of `completed`, `errors` or `unfinished` (in flight
/// when the run ended, or never sent: the `shortfall`), so
/// `scheduled = attempted + shortfall = completed + errors + unfinished`.
struct LoadCounts: Sendable, Equatable {
    /// Measured requests started (sent, or a connection opened for them).
    var attempted = 0
    /// Open loop: measured requests that were due before the run ended but
    /// never got a connection (the offered rate was not achieved). Always 0
    /// in closed loop.
    var shortfall = 0
    /// Responses complete, well-formed, with the expected status and body.
    var completed = 0
    var errors = ErrorCounts()
    /// Measured requests in flight when the core stopped (the shortfall aside).
    var inFlightAtEnd = 0
    /// Requests that started during the warm-up, whatever their outcome.
    var warmup = 0
    /// Bytes received for measured requests (heads and bodies).
    var bytesRead = 0
    /// Connections open now.
    var openConnections = 0
    /// Connections opened (including those that failed).
    var connectionsOpened = 0
    /// TLS handshakes completed for measured requests: full, and resumed.
    var tlsFullHandshakes = 0
    var tlsResumedHandshakes = 0
    /// The end of the last measured request (its completion or failure).
    var lastMeasured = Instant.zero
    /// The core will start nothing more and holds no connection.
    var finished = false

    /// Counts of several cores added up (`lastMeasured` is the latest, `finished` all).
    /// Measured requests: those started and those due but never sent.
    var scheduled: Int { attempted + shortfall }
    /// Measured requests that neither completed nor failed: in flight at the end, or never sent.
    var unfinished: Int { inFlightAtEnd + shortfall }

    /// Failed requests that are in the latency distribution (at their timeout).
    var timedOut: Int { ErrorClass.allCases.filter(\.isTimeout).reduce(0) { $0 + errors[$1] } }

    static func + (lhs: LoadCounts, rhs: LoadCounts) -> LoadCounts {
        var sum = lhs
        sum.attempted += rhs.attempted
        sum.completed += rhs.completed
        sum.errors = sum.errors + rhs.errors
        sum.shortfall += rhs.shortfall
        sum.inFlightAtEnd += rhs.inFlightAtEnd
        sum.warmup += rhs.warmup
        sum.bytesRead += rhs.bytesRead
        sum.openConnections += rhs.openConnections
        sum.connectionsOpened += rhs.connectionsOpened
        sum.tlsFullHandshakes += rhs.tlsFullHandshakes
        sum.tlsResumedHandshakes += rhs.tlsResumedHandshakes
        sum.lastMeasured = max(lhs.lastMeasured, rhs.lastMeasured)
        sum.finished = lhs.finished && rhs.finished
        return sum
    }
}
