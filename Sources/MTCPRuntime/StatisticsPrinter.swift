import MTCP

/// mTCP's `stat_print`: once a second, one line per engine with the rates since
/// the previous line. Off the data path: it reads counters the engine keeps anyway.
public struct StatisticsPrinter {
    private var last: (EngineStatistics, TCPStatistics)?
    private var lastTime = Instant.zero
    let core: Int
    let interval: TimeSpan

    public init(core: Int, interval: TimeSpan = .seconds(1)) {
        self.core = core
        self.interval = interval
    }

    /// Prints a line if `interval` passed since the last one.
    public mutating func tick(_ engine: EngineStatistics, _ tcp: TCPStatistics, connections: Int, now: Instant) {
        guard let (previous, previousTCP) = last else {
            last = (engine, tcp)
            lastTime = now
            return
        }
        let elapsed = now.since(lastTime)
        guard elapsed >= interval else { return }
        let seconds = Double(elapsed.nanoseconds) / 1e9
        func rate(_ now: UInt64, _ before: UInt64) -> Int { Int((Double(now &- before) / seconds).rounded()) }
        let receivedBits = Double((engine.receivedBytes &- previous.receivedBytes) * 8) / seconds / 1e9
        let sentBits = Double((engine.transmittedBytes &- previous.transmittedBytes) * 8) / seconds / 1e9
        print("[core \(core)] flows \(connections) | RX \(rate(engine.receivedFrames, previous.receivedFrames)) pps "
            + "\(gigabits(receivedBits)) Gbps | TX \(rate(engine.transmittedFrames, previous.transmittedFrames)) pps "
            + "\(gigabits(sentBits)) Gbps | new \(rate(tcp.established, previousTCP.established))/s "
            + "| drops \(engine.drops.total &- previous.drops.total) "
            + "| retx \(tcp.retransmittedSegments &- previousTCP.retransmittedSegments) "
            + "| resets in \(tcp.resetsReceived &- previousTCP.resetsReceived) out \(tcp.resetsSent &- previousTCP.resetsSent)")
        last = (engine, tcp)
        lastTime = now
    }

    private func gigabits(_ value: Double) -> String {
        let milli = Int((value * 1000).rounded())
        return "\(milli / 1000).\(String(milli % 1000).leftPadded(to: 3))"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
