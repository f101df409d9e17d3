/// A counter of the statistics structs, named for Prometheus (`mtcp_NAME_total`)
/// with its help text. One table per struct serves both the totals over cores
/// and the exposition, so a new counter is added in one place.
public struct CounterField<Statistics>: Sendable {
    public let name: String
    public let help: String
    public let keyPath: WritableKeyPath<Statistics, UInt64> & Sendable

    public init(name: String, help: String, keyPath: WritableKeyPath<Statistics, UInt64> & Sendable) {
        self.name = name
        self.help = help
        self.keyPath = keyPath
    }
}
