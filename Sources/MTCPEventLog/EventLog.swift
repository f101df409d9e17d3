import Logging

/// Where a program's event log goes and at which level: made once at start-up
/// and handed to every core (no global `LoggingSystem.bootstrap`), each core
/// making its own `Logger` with its number as metadata.
public struct EventLog: Sendable {
    public let program: String
    public let style: EventLogStyle
    public let level: EventLogLevel

    public init(program: String, style: EventLogStyle = .detect(), level: EventLogLevel = EventLogLevel()) {
        self.program = program
        self.style = style
        self.level = level
    }

    /// A logger whose lines name `core`, when given.
    public func logger(core: Int? = nil) -> Logger {
        var logger = Logger(label: program) { _ in
            EventLogHandler(program: program, style: style, level: level)
        }
        if let core { logger[metadataKey: "core"] = "\(core)" }
        return logger
    }
}
