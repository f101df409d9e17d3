import MTCP

/// mTCP's `stat_print`: once a second, one line per core and one for all cores,
/// with the rates since the previous lines (the last also counts the reloads).
/// Runs on the management thread from the engines' published snapshots:
/// nothing on the data path.
public struct StatisticsPrinter {
    private var previous: [CoreSnapshot]?
    private var previousPort: DeviceStatistics?
    private var previousTime = Instant.zero

    public init() {}

    /// The lines for `snapshots` and the port's counters `port` taken at `now`
    /// (nil the first time: no rates yet).
    public mutating func lines(_ snapshots: [CoreSnapshot], reloads: ConfigurationReloads.Counts = .init(),
                               port: DeviceStatistics? = nil, now: Instant) -> [String]? {
        let portBefore = previousPort
        defer {
            previous = snapshots
            previousPort = port
            previousTime = now
        }
        guard let previous, previous.count == snapshots.count, now > previousTime else { return nil }
        let seconds = Double(now.since(previousTime).nanoseconds) / 1e9
        var lines = zip(snapshots, previous).map { line("core \($0.core)", $0, $1, seconds) }
        if snapshots.count > 1 { lines.append(line("ALL", snapshots.total, previous.total, seconds)) }
        // The process's reloads, once, on the last line.
        if let last = lines.indices.last {
            lines[last] += " | reloads \(reloads.done) refused \(reloads.refused)"
            // The port's, once: frames it missed never reached a core's drops. Not
            // when a counter went back (a driver that restarted its counts).
            if let port, let before = portBefore, port.receiveMissed >= before.receiveMissed,
               port.receiveErrors >= before.receiveErrors, port.transmitErrors >= before.transmitErrors {
                lines[last] += " | port missed \(port.receiveMissed - before.receiveMissed)"
                    + " errors \(port.receiveErrors - before.receiveErrors + port.transmitErrors - before.transmitErrors)"
            }
            // A core that could not take the last reload (not one merely taking it now).
            for snapshot in snapshots where snapshot.reloads.failures > 0 && snapshot.reloads.generation != reloads.done {
                lines[last] += " | core \(snapshot.core) runs configuration \(snapshot.reloads.generation)"
                    + " (reload failures \(snapshot.reloads.failures))"
            }
        }
        return lines
    }

    private func line(_ label: String, _ current: CoreSnapshot, _ before: CoreSnapshot, _ seconds: Double) -> String {
        func rate(_ now: UInt64, _ then: UInt64) -> Int { Int((Double(now &- then) / seconds).rounded()) }
        func gigabits(_ now: UInt64, _ then: UInt64) -> String {
            let milli = Int((Double((now &- then) * 8) / seconds / 1e6).rounded())
            let fraction = String(milli % 1000)
            return "\(milli / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        }
        let engine = current.engine, old = before.engine, tcp = current.tcp, oldTCP = before.tcp
        var text = "[\(label)] flows \(current.connections)/\(current.connectionCapacity)"
        if let busy = current.busyPercent(since: before) { text += " | busy \(Int(busy.rounded()))%" }
        text += " | RX \(rate(engine.receivedFrames, old.receivedFrames)) pps "
            + "\(gigabits(engine.receivedBytes, old.receivedBytes)) Gbps"
        text += " | TX \(rate(engine.transmittedFrames, old.transmittedFrames)) pps "
            + "\(gigabits(engine.transmittedBytes, old.transmittedBytes)) Gbps"
        text += " | new \(rate(tcp.established, oldTCP.established))/s"
        text += " | drops \(engine.drops.total &- old.drops.total)"
        text += " | retx \(tcp.retransmittedSegments &- oldTCP.retransmittedSegments)"
        text += " | resets in \(tcp.resetsReceived &- oldTCP.resetsReceived) out \(tcp.resetsSent &- oldTCP.resetsSent)"
        return text
    }
}
