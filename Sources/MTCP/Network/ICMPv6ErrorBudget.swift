/// The rate limit on ICMPv6 errors this engine sends (RFC 4443 §2.4 (f)): a
/// token bucket, so that a flood of packets that each deserve an error (a
/// forged source, unknown next headers) cannot turn the stack into an
/// amplifier or starve its own traffic of buffers.
struct ICMPv6ErrorBudget {
    /// Errors per second in the long run, and the burst allowed (Linux's
    /// icmpv6 ratelimit is 1 per ms per destination; one engine-wide budget of
    /// 100/s with a burst of 10 is deliberately stricter).
    static var perSecond: UInt64 { 100 }
    static var burst: UInt64 { 10 }

    private var tokens: UInt64
    private var lastRefill: Instant

    init(now: Instant) {
        tokens = Self.burst
        lastRefill = now
    }

    /// Takes a token for one error at `now`; false when the budget is spent.
    mutating func take(now: Instant) -> Bool {
        let interval = 1_000_000_000 / Self.perSecond
        let earned = now.since(lastRefill).nanoseconds / interval
        if earned > 0 {
            tokens = min(Self.burst, tokens + earned)
            lastRefill = lastRefill + TimeSpan(nanoseconds: earned * interval)
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}
