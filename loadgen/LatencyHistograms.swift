import Histogram
import MTCP

/// The distributions a run measures, in nanoseconds: request latency (from the
/// request's start, or its intended start in open loop, to the last byte of the
/// response; requests that timed out or never finished are in it too, see
/// `HTTPLoad`), connect time (SYN to established) and time to first byte
/// (request sent to the first response byte). Nanoseconds, because round trips
/// here are a few microseconds: whole microseconds would step every percentile
/// and bias the mean by half a microsecond. HdrHistogram keeps three
/// significant digits over the whole range in fixed memory, allocated once at
/// start-up: recording is an index computation and an increment.
struct LatencyHistograms: Sendable {
    /// Values above this (100 s) are recorded as this.
    static let highestNanoseconds: UInt64 = 100_000_000_000

    var latency = Self.make()
    var connect = Self.make()
    var firstByte = Self.make()
    /// TLS handshake time (established to the handshake's end), with TLS.
    var handshake = Self.make()
    /// Request latency per workload entry (URL), so the flows of one size can be
    /// told apart in a mix (short flows beside bulk ones).
    var latencyByEntry: [Histogram<UInt64>]

    /// Distributions for a workload of `entries` URLs.
    init(entries: Int) {
        latencyByEntry = (0..<entries).map { _ in Self.make() }
    }

    private static func make() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestNanoseconds,
                          numberOfSignificantValueDigits: .three)
    }

    /// Records a request's latency, overall and for its workload entry.
    mutating func recordLatency(_ span: TimeSpan, entry: Int) {
        latency.record(span)
        latencyByEntry[entry].record(span)
    }

    /// Adds another core's distributions.
    mutating func add(_ other: LatencyHistograms) {
        latency.add(other.latency)
        connect.add(other.connect)
        firstByte.add(other.firstByte)
        handshake.add(other.handshake)
        for entry in other.latencyByEntry.indices where entry < latencyByEntry.count {
            latencyByEntry[entry].add(other.latencyByEntry[entry])
        }
    }
}

extension Histogram<UInt64> {
    /// Records a time span in nanoseconds, clamped to the trackable range.
    @inline(__always)
    mutating func record(_ span: TimeSpan) {
        let nanoseconds = Swift.min(Swift.max(span.nanoseconds, 1), LatencyHistograms.highestNanoseconds)
        _ = record(nanoseconds)
    }
}
