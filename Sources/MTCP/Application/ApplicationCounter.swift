/// A counter of the application's, named for Prometheus (`mtcp_NAME_total`),
/// or a gauge (`mtcp_NAME`). Several with one name and different `labels` are
/// the samples of one family (one per upstream server, say).
public struct ApplicationCounter: Sendable, Equatable {
    public let name: String
    public let help: String
    public var value: UInt64
    /// Prometheus labels beside `core`, written out (`server="198.18.0.2:8080"`); empty for none.
    public let labels: String
    public let isGauge: Bool

    public init(name: String, help: String, value: UInt64, labels: String = "", isGauge: Bool = false) {
        self.name = name
        self.help = help
        self.value = value
        self.labels = labels
        self.isGauge = isGauge
    }
}
