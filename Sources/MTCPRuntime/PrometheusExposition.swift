import MTCP

/// The engines' counters in Prometheus' text exposition format (version 0.0.4):
/// one sample per core (label `core`) for every counter, drop reasons as a
/// label, and gauges for connections and pool use; the process's reload counts
/// and the port's own counters, without a core label.
public enum PrometheusExposition {
    public static func render(_ snapshots: [CoreSnapshot], reloads: ConfigurationReloads.Counts = .init(),
                              port: DeviceStatistics? = nil) -> String {
        var text = ""
        /// One sample per core; a core without a value (nil) has none.
        func family<Value>(_ name: String, _ type: String, _ help: String, _ value: (CoreSnapshot) -> Value?) {
            text += "# HELP mtcp_\(name) \(help)\n# TYPE mtcp_\(name) \(type)\n"
            for snapshot in snapshots {
                guard let value = value(snapshot) else { continue }
                text += "mtcp_\(name){core=\"\(snapshot.core)\"} \(value)\n"
            }
        }
        for field in EngineStatistics.counters {
            family(field.name + "_total", "counter", field.help) { $0.engine[keyPath: field.keyPath] }
        }
        text += "# HELP mtcp_dropped_frames_total Frames dropped, by reason\n"
        text += "# TYPE mtcp_dropped_frames_total counter\n"
        for snapshot in snapshots {
            for reason in DropReason.allCases {
                text += "mtcp_dropped_frames_total{core=\"\(snapshot.core)\",reason=\"\(reason)\"} "
                    + "\(snapshot.engine.drops[reason])\n"
            }
        }
        for field in TCPStatistics.counters {
            family(field.name + "_total", "counter", field.help) { $0.tcp[keyPath: field.keyPath] }
        }
        // The application's: samples of one name (with different labels) are one family.
        let application = snapshots.first?.application ?? []
        for (index, first) in application.enumerated() where !application[..<index].contains(where: { $0.name == first.name }) {
            let name = "mtcp_" + first.name + (first.isGauge ? "" : "_total")
            text += "# HELP \(name) \(first.help)\n# TYPE \(name) \(first.isGauge ? "gauge" : "counter")\n"
            for snapshot in snapshots {
                for sample in snapshot.application where sample.name == first.name {
                    text += "\(name){core=\"\(snapshot.core)\"\(sample.labels.isEmpty ? "" : "," + sample.labels)} \(sample.value)\n"
                }
            }
        }
        family("connections", "gauge", "Connections in the pool (any state)") { UInt64($0.connections) }
        family("connection_capacity", "gauge", "Size of the connection pool (max_concurrency)") {
            UInt64($0.connectionCapacity)
        }
        family("sockets", "gauge", "Sockets the application holds") { UInt64($0.sockets) }
        family("busy_seconds_total", "counter", "Time in loop iterations that received or sent frames") {
            Double($0.busyNanoseconds) / 1e9
        }
        family("idle_seconds_total", "counter", "Time in loop iterations that found nothing to do") {
            Double($0.idleNanoseconds) / 1e9
        }
        family("busy_percent", "gauge", "Busy share of the last half second, in percent") { $0.recentBusyPercent }
        family("output_backlog", "gauge", "Connections waiting on the TCP output lists (line shaped by tx_rate_mbps)") {
            UInt64($0.outputBacklog)
        }
        family("captured_frames_total", "counter", "Frames written to the pcap file") { $0.framesCaptured }
        family("capture_skipped_frames_total", "counter", "Frames not captured: the pcap file was full") {
            $0.framesNotCaptured
        }
        // What each core made of the reloads: a core behind mtcp_reloads_total failed one (logged).
        family("configuration_generation", "gauge", "Configuration generation the core runs (0 at start, +1 per reload taken)") {
            $0.reloads.generation
        }
        family("reload_failures_total", "counter", "Reloads this core could not take: it kept its previous configuration") {
            $0.reloads.failures
        }
        if let port { text += portFamilies(port) }
        // Reloads are the process's, not a core's: no label.
        text += "# HELP mtcp_reloads_total Reloads (SIGHUP) accepted and published to the cores\n"
        text += "# TYPE mtcp_reloads_total counter\n"
        text += "mtcp_reloads_total \(reloads.done)\n"
        text += "# HELP mtcp_reloads_refused_total Reloads (SIGHUP) refused: the old configuration kept\n"
        text += "# TYPE mtcp_reloads_refused_total counter\nmtcp_reloads_refused_total \(reloads.refused)\n"
        return text
    }

    /// The port's own counters: the port's, not a core's, so no label.
    private static func portFamilies(_ port: DeviceStatistics) -> String {
        let families: [(String, String, UInt64)] = [
            ("received_packets", "Frames the port received", port.receivedPackets),
            ("received_bytes", "Bytes the port received", port.receivedBytes),
            ("transmitted_packets", "Frames the port transmitted", port.transmittedPackets),
            ("transmitted_bytes", "Bytes the port transmitted", port.transmittedBytes),
            ("missed", "Frames the port dropped before any core saw them (receive ring full)", port.receiveMissed),
            ("receive_errors", "Frames the port received in error", port.receiveErrors),
            ("transmit_errors", "Frames the port failed to transmit", port.transmitErrors),
            ("no_mbuf", "Receive buffer allocation failures in the driver (rx_nombuf)", port.allocationFailures),
        ]
        return families.map { name, help, value in
            "# HELP mtcp_port_\(name)_total \(help)\n# TYPE mtcp_port_\(name)_total counter\nmtcp_port_\(name)_total \(value)\n"
        }.joined()
    }
}
