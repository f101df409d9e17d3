import MTCP

/// The engines' counters in Prometheus' text exposition format (version 0.0.4):
/// one sample per core (label `core`) for every counter, drop reasons as a
/// label, and gauges for connections and pool use.
public enum PrometheusExposition {
    public static func render(_ snapshots: [CoreSnapshot]) -> String {
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: (CoreSnapshot) -> UInt64) {
            text += "# HELP mtcp_\(name) \(help)\n# TYPE mtcp_\(name) \(type)\n"
            for snapshot in snapshots { text += "mtcp_\(name){core=\"\(snapshot.core)\"} \(value(snapshot))\n" }
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
        for (index, counter) in (snapshots.first?.application ?? []).enumerated() {
            family(counter.name + "_total", "counter", counter.help) {
                index < $0.application.count ? $0.application[index].value : 0
            }
        }
        family("connections", "gauge", "Connections in the pool (any state)") { UInt64($0.connections) }
        family("connection_capacity", "gauge", "Size of the connection pool (max_concurrency)") {
            UInt64($0.connectionCapacity)
        }
        family("sockets", "gauge", "Sockets the application holds") { UInt64($0.sockets) }
        family("output_backlog", "gauge", "Connections waiting on the TCP output lists (line shaped by tx_rate_mbps)") {
            UInt64($0.outputBacklog)
        }
        family("captured_frames_total", "counter", "Frames written to the pcap file") { $0.framesCaptured }
        family("capture_skipped_frames_total", "counter", "Frames not captured: the pcap file was full") {
            $0.framesNotCaptured
        }
        return text
    }
}
