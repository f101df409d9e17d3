@testable import MTCP

extension Engine {
    /// One whole iteration with no application: receive, timers, send.
    mutating func step(now: Instant) {
        poll(now: now)
        flush(now: now)
    }
}
