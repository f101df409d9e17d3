import MTCP

/// One core's measured outcomes per second of the wall clock: a request counts
/// in the second in which it ended (completed or failed), so each second holds
/// exactly what happened in it however late anyone looks, and the cores'
/// seconds line up without talking to each other (whole seconds of the same
/// clock). The seconds are those of Unix time (the monotonic clock plus one
/// offset taken at start), so runs on several hosts line up too when `merge`
/// adds them (as far as the hosts' clocks agree). Warm-up requests are never recorded.
///
/// One bin is appended per second of the run, into capacity reserved at
/// start-up: recording a request is an index computation and three additions.
struct SecondBins: Sendable, Equatable {
    struct Bin: Sendable, Equatable {
        var completed = 0
        var errors = 0
        var bytesRead = 0
        /// The most connections this core had open at once in the second.
        var peakOpenConnections = 0
    }

    /// The Unix second of `bins[0]`.
    private(set) var firstSecond: UInt64?
    private(set) var bins: [Bin] = []
    /// Unix time minus the monotonic clock, in nanoseconds (0: the instants are Unix time).
    let wallClockOffset: Int64

    init(reserving seconds: Int = 0, wallClockOffset: Int64 = 0) {
        bins.reserveCapacity(seconds)
        self.wallClockOffset = wallClockOffset
    }

    /// The bins of another run's series, by Unix second (for `merge`).
    init(samples: [SecondSample]) {
        self.init()
        for sample in samples {
            let index = bin(Instant(nanoseconds: UInt64(sample.unixSecond) * 1_000_000_000))
            bins[index].completed += sample.completed
            bins[index].errors += sample.errors
            bins[index].bytesRead += sample.bytesRead
            bins[index].peakOpenConnections = max(bins[index].peakOpenConnections, sample.openConnections)
        }
    }

    /// `instant` in Unix time.
    private func unix(_ instant: Instant) -> UInt64 { UInt64(Int64(instant.nanoseconds) &+ wallClockOffset) }

    /// The bin of the second containing `now`.
    @inline(__always)
    private mutating func bin(_ now: Instant) -> Int {
        let second = unix(now) / 1_000_000_000
        let first = firstSecond ?? second
        firstSecond = first
        let index = Int(second - min(second, first))
        while bins.count <= index { bins.append(Bin()) }
        return index
    }

    /// A measured request ended at `now`; `completed` may be -1 when one
    /// counted complete turned out malformed (and then `errors` is 1).
    mutating func record(at now: Instant, completed: Int, errors: Int, bytesRead: Int) {
        let index = bin(now)
        bins[index].completed += completed
        bins[index].errors += errors
        bins[index].bytesRead += bytesRead
    }

    /// The core has `count` connections open at `now`.
    mutating func noteOpen(_ count: Int, at now: Instant) {
        let index = bin(now)
        bins[index].peakOpenConnections = max(bins[index].peakOpenConnections, count)
    }

    /// Several cores' bins added second by second (peaks add up: an upper bound).
    static func + (lhs: SecondBins, rhs: SecondBins) -> SecondBins {
        guard let right = rhs.firstSecond else { return lhs }
        guard let left = lhs.firstSecond else { return rhs }
        var sum = SecondBins(wallClockOffset: lhs.wallClockOffset)
        sum.firstSecond = min(left, right)
        for (first, bins) in [(left, lhs.bins), (right, rhs.bins)] {
            for (offset, bin) in bins.enumerated() {
                let index = Int(first - sum.firstSecond!) + offset
                while sum.bins.count <= index { sum.bins.append(Bin()) }
                sum.bins[index].completed += bin.completed
                sum.bins[index].errors += bin.errors
                sum.bins[index].bytesRead += bin.bytesRead
                sum.bins[index].peakOpenConnections += bin.peakOpenConnections
            }
        }
        return sum
    }

    /// The series from `start` (the measurement's start) to `end` (the last
    /// measured request's end): one sample per second of the clock, the first
    /// and last cut to the measured time and marked partial.
    func samples(from start: Instant, to end: Instant) -> [SecondSample] {
        guard let firstSecond, end > start else { return [] }
        let second: UInt64 = 1_000_000_000
        var samples: [SecondSample] = []
        var intervalStart = start
        var ordinal = 1
        while intervalStart < end {
            let clockSecond = unix(intervalStart) / second
            let nextSecond = Instant(nanoseconds: UInt64(Int64((clockSecond + 1) * second) &- wallClockOffset))
            let intervalEnd = min(nextSecond, end)
            let index = clockSecond >= firstSecond ? Int(clockSecond - firstSecond) : -1
            let bin = bins.indices.contains(index) ? bins[index] : Bin()
            let length = intervalEnd.since(intervalStart)
            samples.append(SecondSample(second: ordinal,
                                        startSeconds: Double(intervalStart.since(start).nanoseconds) / 1e9,
                                        seconds: Double(length.nanoseconds) / 1e9, partial: length.nanoseconds < second,
                                        completed: bin.completed, errors: bin.errors, bytesRead: bin.bytesRead,
                                        openConnections: bin.peakOpenConnections, unixSecond: Int(clockSecond)))
            intervalStart = intervalEnd
            ordinal += 1
        }
        return samples
    }
}

/// One interval of the per-second series: a second of the clock, or the part
/// of one that the measurement covered (`partial`).
struct SecondSample: Sendable, Equatable, Codable {
    /// 1, 2, 3... in order.
    var second: Int
    /// Where the interval starts, in seconds since the measurement began.
    var startSeconds: Double
    /// Its length: 1, or less for a partial interval.
    var seconds: Double
    var partial: Bool
    /// Measured requests that ended in the interval.
    var completed: Int
    var errors: Int
    var bytesRead: Int
    /// Peak connections open in the interval (the cores' peaks added up).
    var openConnections: Int
    /// The Unix second the interval lies in: where runs of several hosts line up.
    var unixSecond: Int
}
