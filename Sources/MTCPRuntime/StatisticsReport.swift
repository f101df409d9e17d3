import MTCP

extension EngineStatistics {
    /// A multi-line summary for the end of a run.
    public var report: String {
        var lines = [
            "frames: received \(receivedFrames) (\(receivedBytes) bytes), "
                + "transmitted \(transmittedFrames) (\(transmittedBytes) bytes)",
            "arp: requests sent \(arpRequestsSent), replies sent \(arpRepliesSent)",
            "icmp: echo replies sent \(echoRepliesSent), received \(echoRepliesReceived)",
        ]
        let drops = self.drops.nonZero
        lines.append("drops: \(self.drops.total)"
            + (drops.isEmpty ? "" : " (" + drops.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"))
        return lines.joined(separator: "\n")
    }
}
