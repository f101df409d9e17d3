import MTCP

extension EngineStatistics {
    /// A multi-line summary for the end of a run.
    public var report: String {
        var lines = [
            "frames: received \(receivedFrames) (\(receivedBytes) bytes), "
                + "transmitted \(transmittedFrames) (\(transmittedBytes) bytes)",
            "arp: requests sent \(arpRequestsSent), replies sent \(arpRepliesSent), "
                + "cache evictions \(arpCacheEvictions), MAC changes \(arpMACChanges) "
                + "(\(arpMACChangesIgnored) ignored)",
            "icmp: echo replies sent \(echoRepliesSent), received \(echoRepliesReceived)",
        ]
        let drops = self.drops.nonZero
        lines.append("drops: \(self.drops.total)"
            + (drops.isEmpty ? "" : " (" + drops.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"))
        return lines.joined(separator: "\n")
    }
}

extension TCPStatistics {
    /// One line per group of TCP counters, for the end of a run.
    public var report: String {
        """
        tcp: active opens \(activeOpens), passive opens \(passiveOpens), timed from a cached RTT \(cachedRTTOpens), \
        established \(established), \
        closed \(closed), resets received \(resetsReceived), resets sent \(resetsSent)
        tcp: segments received \(segmentsReceived), sent \(segmentsSent), retransmitted \(retransmittedSegments), \
        fast retransmits \(fastRetransmits), timeouts \(timeouts), tail loss probes \(tlpProbes), \
        TLP recoveries \(tlpRecoveries), RACK marked lost \(rackMarkedLost), spurious RTOs \(spuriousTimeouts) \
        undone \(spuriousTimeoutsUndone), D-SACKs received \(duplicateSACKsReceived)
        tcp: challenge ACKs \(challengeAcksSent) suppressed \(challengeAcksSuppressed), SYN cookies sent \(synCookiesSent) checked \(synCookiesChecked) accepted \(synCookiesAccepted) \
        rejected \(synCookiesRejected), refused (no resources) \(refusedNoResources), accept queue overflows \
        \(acceptQueueOverflows)
        tcp: bad checksum \(badChecksum), malformed \(malformed), out of window \(outOfWindow), PAWS \(pawsRejected), \
        their bare ACKs suppressed \(droppedSegmentAcksSuppressed), \
        out of order \(outOfOrderSegments), out-of-order refused \(outOfOrderRefused), zero-window probes \
        \(zeroWindowProbes)
        """
    }
}

extension DeviceStatistics {
    /// These counters, unless they are all zero although the engines received
    /// `engineReceivedFrames`: a driver that keeps none (DPDK 22.11's
    /// `net_memif` answers every read with zeros) would otherwise show a port
    /// that received nothing and missed nothing.
    public func kept(engineReceivedFrames: UInt64) -> DeviceStatistics? {
        self == DeviceStatistics() && engineReceivedFrames > 0 ? nil : self
    }

    /// The port's own counters on one line, for the end of a run: what it
    /// missed or refused never reached an engine's counters.
    public var report: String {
        "port: received \(receivedPackets) (\(receivedBytes) bytes), transmitted \(transmittedPackets) "
            + "(\(transmittedBytes) bytes), missed \(receiveMissed), receive errors \(receiveErrors), "
            + "transmit errors \(transmitErrors), no mbuf \(allocationFailures)"
    }
}

extension [ApplicationCounter] {
    /// The application's counters on one line (`name value, ...`), for the end of a run.
    public var report: String {
        isEmpty ? "" : "application: " + map { "\($0.name)\($0.labels.isEmpty ? "" : "{\($0.labels)}") \($0.value)" }.joined(separator: ", ")
    }
}
