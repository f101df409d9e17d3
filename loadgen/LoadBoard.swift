import MTCP
import MTCPRuntime
import Synchronization

/// Where the cores of an HTTP run leave their counts (a few times a second)
/// and their histograms and per-second bins (at the end), and where the progress reporter and the
/// final summary read them. The only state shared between cores; taken with
/// a lock, never per request.
final class LoadBoard: Sendable {
    private struct Slots {
        var counts: [LoadCounts]
        var histograms: [LatencyHistograms?]
        var seconds: [SecondBins]
        /// When the first core began, and when its measurement began (after warm-up).
        var started: Instant?
        var measuring: Instant?
    }

    private let slots: Mutex<Slots>
    let cores: Int

    init(cores: Int) {
        self.cores = cores
        slots = Mutex(Slots(counts: Array(repeating: LoadCounts(), count: cores),
                            histograms: Array(repeating: nil, count: cores),
                            seconds: Array(repeating: SecondBins(), count: cores)))
    }

    /// A core's counts; once every core has finished, the run is over and the
    /// engines are asked to stop.
    func publish(core: Int, _ counts: LoadCounts) {
        let allFinished = slots.withLock { slots in
            slots.counts[core] = counts
            return slots.counts.allSatisfy(\.finished)
        }
        if allFinished { StopSignal.request() }
    }

    /// A core's distributions and per-second bins (at the end of its run).
    func publish(core: Int, _ histograms: LatencyHistograms, _ seconds: SecondBins) {
        slots.withLock {
            $0.histograms[core] = histograms
            $0.seconds[core] = seconds
        }
    }

    /// All cores' per-second bins added up.
    var seconds: SecondBins { slots.withLock { $0.seconds.reduce(SecondBins(), +) } }

    /// Notes a core's start and the start of its measurement; the earliest counts.
    func started(at start: Instant, measuringFrom measuring: Instant) {
        slots.withLock { slots in
            slots.started = min(slots.started ?? start, start)
            slots.measuring = min(slots.measuring ?? measuring, measuring)
        }
    }

    /// All cores' counts added up.
    var total: LoadCounts { slots.withLock { $0.counts.dropFirst().reduce($0.counts[0], +) } }

    /// All cores' distributions merged (cores that published none are left out).
    var histograms: LatencyHistograms {
        slots.withLock { slots in
            let published = slots.histograms.compactMap { $0 }
            var merged = LatencyHistograms(entries: published.first?.latencyByEntry.count ?? 0)
            for histograms in published { merged.add(histograms) }
            return merged
        }
    }

    /// When the first core started, and when measurement started.
    var times: (started: Instant?, measuring: Instant?) { slots.withLock { ($0.started, $0.measuring) } }
}
