/// A counter of the application's, named for Prometheus (`mtcp_NAME_total`).
public struct ApplicationCounter: Sendable, Equatable {
    public let name: String
    public let help: String
    public var value: UInt64

    public init(name: String, help: String, value: UInt64) {
        self.name = name
        self.help = help
        self.value = value
    }
}
