/// What the requests ask for: one URL, a list of URLs, or a mix of sizes, each
/// entry with a weight. Each request picks an entry at random in proportion to
/// the weights (a seeded generator per core, so runs repeat).
struct Workload: Equatable, Sendable {
    struct Entry: Equatable, Sendable {
        var target: HTTPTarget
        var weight: Double
    }

    var entries: [Entry]

    /// Every request for `target`.
    init(single target: HTTPTarget) {
        entries = [Entry(target: target, weight: 1)]
    }

    init(entries: [Entry]) throws(LoadgenError) {
        guard !entries.isEmpty else { throw LoadgenError("the workload has no URL") }
        guard entries.allSatisfy({ $0.weight > 0 && $0.weight.isFinite }) else {
            throw LoadgenError("weights must be positive numbers")
        }
        let first = entries[0].target
        guard entries.allSatisfy({ $0.target.address == first.address && $0.target.port == first.port }) else {
            throw LoadgenError("all URLs of a workload must name the same server (address and port)")
        }
        self.entries = entries
    }

    /// A URL list: one entry per line, `URL-or-PATH [WEIGHT]`; a path is taken
    /// relative to `base`'s server; blank lines and lines starting with `#`
    /// are skipped.
    init(listText text: String, base: HTTPTarget) throws(LoadgenError) {
        var entries: [Entry] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            guard fields.count <= 2 else { throw LoadgenError("URL list line \(number + 1): expected URL [WEIGHT]") }
            let target = first.hasPrefix("/") ? base.with(path: String(first)) : try HTTPTarget(url: String(first))
            var weight = 1.0
            if fields.count == 2 {
                guard let value = Double(fields[1]), value > 0, value.isFinite else {
                    throw LoadgenError("URL list line \(number + 1): the weight must be a positive number")
                }
                weight = value
            }
            entries.append(Entry(target: target, weight: weight))
        }
        try self.init(entries: entries)
    }

    /// The flow sizes that motivate the project (DESIGN.md §1): in a large
    /// cellular network 90% of flows are under 32 KB and more than half under
    /// 4 KB. Over the files of www/bench (made by scripts/make-bench-files.sh):
    /// 64 B 35%, 1 KiB 25% (60% under 4 KB), 4 KiB 30% (90% under 32 KB),
    /// 32 KiB 8%, 1 MiB 2% (the long tail that carries most of the bytes).
    static func cellularMix(base: HTTPTarget) -> Workload {
        let mix: [(String, Double)] = [("/bench/64.html", 35), ("/bench/1k.html", 25), ("/bench/4k.html", 30),
                                       ("/bench/32k.html", 8), ("/bench/1m.bin", 2)]
        return Workload(unchecked: mix.map { Entry(target: base.with(path: $0.0), weight: $0.1) })
    }

    private init(unchecked entries: [Entry]) { self.entries = entries }

    /// Cumulative thresholds over the 64-bit range: a uniform random number
    /// `r` picks the first entry whose threshold is above it (the last entry's
    /// is UInt64.max, so every number picks one).
    var thresholds: [UInt64] {
        let total = entries.reduce(0) { $0 + $1.weight }
        var sum = 0.0
        return entries.indices.map { index in
            sum += entries[index].weight
            let fraction = sum / total
            return index == entries.count - 1 || fraction >= 1 ? .max : UInt64(fraction * 0x1p64)
        }
    }
}

/// Picks workload entries from random numbers with the workload's thresholds.
struct WorkloadPicker {
    let thresholds: [UInt64]

    /// The entry for the uniform random number `random` (binary search).
    @inline(__always)
    func pick(_ random: UInt64) -> Int {
        var low = 0
        var high = thresholds.count - 1
        while low < high {
            let middle = (low + high) / 2
            if random < thresholds[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
