/// The final summary in the shape wrk users know: the set-up, latency
/// statistics and distribution, the totals, errors by class, then the rates.
struct LoadSummary {
    let result: LoadResult
    let url: String

    var text: String {
        let plan = result.plan
        let counts = result.counts
        var lines: [String] = []
        let length = plan.duration.map { "\(Self.seconds($0.nanoseconds)) test" }
            ?? "\(plan.totalRequests ?? 0)-request test"
        lines.append("Running \(length) @ \(url)\(plan.workload.entries.count > 1 ? " (\(plan.workload.entries.count) URLs)" : "")")
        let loop = plan.rate.map { "open loop at \(Self.number($0)) requests/s" } ?? "closed loop"
        lines.append("  \(result.cores) core\(result.cores == 1 ? "" : "s") and \(plan.concurrency) connection"
            + "\(plan.concurrency == 1 ? "" : "s"), \(loop), \(plan.requestsPerConnection) request"
            + "\(plan.requestsPerConnection == 1 ? "" : "s") per connection"
            + (plan.warmup.nanoseconds > 0 ? ", \(Self.seconds(plan.warmup.nanoseconds)) warm-up excluded" : ""))
        lines.append("  Stats      Avg       Stdev       Max")
        var rows = [("Latency", result.histograms.latency), ("Connect", result.histograms.connect)]
        if plan.tls { rows.append(("Handshake", result.histograms.handshake)) }
        rows.append(("TTFB", result.histograms.firstByte))
        for (name, histogram) in rows {
            let distribution = Distribution(histogram)
            lines.append("    " + Self.pad(name, 9) + Self.pad(Self.time(distribution.mean), 10)
                + Self.pad(Self.time(distribution.standardDeviation), 12) + Self.pad(Self.time(distribution.max), 10))
        }
        let latency = Distribution(result.histograms.latency)
        lines.append("  Latency Distribution (from each request's \(plan.rate == nil ? "" : "intended ")start; "
            + "\(counts.completed) completed, \(counts.timedOut) timed out at their timeout, "
            + "\(counts.unfinished) unfinished at the run's end)")
        for (label, value) in latency.percentiles {
            lines.append("    " + Self.pad(label + "%", 7, right: true) + "  " + Self.time(value))
        }
        lines.append("    " + Self.pad("max", 7, right: true) + "  " + Self.time(latency.max))
        lines.append("  \(counts.completed) requests in \(Self.number(result.elapsedSeconds))s, "
            + "\(Self.bytes(Double(counts.bytesRead))) read")
        lines.append("  Requests \(counts.scheduled) = completed \(counts.completed) + errors \(counts.errors.total)"
            + " + unfinished \(counts.unfinished) (\(counts.inFlightAtEnd) in flight at the end, "
            + "\(counts.shortfall) never sent)" + (counts.warmup > 0 ? ", and \(counts.warmup) in warm-up" : ""))
        if let rate = plan.rate {
            lines.append("  Open loop: \(counts.scheduled) scheduled, \(counts.attempted) sent")
            if counts.shortfall > 0 {
                lines.append("  Offered rate of \(Self.number(rate)) requests/s NOT achieved: \(counts.shortfall) "
                    + "scheduled requests found no free connection (-c) before the end and were never sent")
            }
        }
        lines.append("  Errors: " + ErrorClass.allCases.map { "\($0.name) \(counts.errors[$0])" }.joined(separator: ", "))
        if plan.tls {
            lines.append("  TLS handshakes: \(counts.tlsFullHandshakes) full, \(counts.tlsResumedHandshakes) resumed")
        }
        lines.append("Requests/sec: \(Self.number(result.requestsPerSecond))")
        if plan.tls { lines.append("Handshakes/sec: \(Self.number(result.handshakesPerSecond))") }
        lines.append("Transfer/sec: \(Self.bytes(result.bytesPerSecond))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Microseconds in wrk's style: us, ms or s with two decimals.
    static func time(_ microseconds: Double) -> String {
        if microseconds < 1000 { return number(microseconds) + "us" }
        if microseconds < 1_000_000 { return number(microseconds / 1000) + "ms" }
        return number(microseconds / 1_000_000) + "s"
    }

    static func bytes(_ count: Double) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = count
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return number(value) + units[unit]
    }

    static func seconds(_ nanoseconds: UInt64) -> String { number(Double(nanoseconds) / 1e9) + "s" }

    /// Two decimals, without Foundation's formatter.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return right ? fill + text : text + fill
    }
}
