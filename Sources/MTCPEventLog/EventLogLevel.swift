import Logging
import Synchronization

/// The level below which events are dropped, shared by every core's `Logger`
/// and changed on a reload (`log_level` in httpd.json) by the management
/// thread: one relaxed atomic load per log call, and nothing more when the
/// event is filtered out (swift-log builds the message only past this check).
public final class EventLogLevel: Sendable {
    private let raw: Atomic<UInt8>

    public init(_ level: Logger.Level = .info) { raw = Atomic(Self.code(level)) }

    public var level: Logger.Level {
        get { Self.level(raw.load(ordering: .relaxed)) }
        set { raw.store(Self.code(newValue), ordering: .relaxed) }
    }

    // A switch, not `Logger.Level.allCases[...]`: that builds an array on every call.
    private static func code(_ level: Logger.Level) -> UInt8 {
        switch level {
        case .trace: 0
        case .debug: 1
        case .info: 2
        case .notice: 3
        case .warning: 4
        case .error: 5
        case .critical: 6
        }
    }

    private static func level(_ code: UInt8) -> Logger.Level {
        switch code {
        case 0: .trace
        case 1: .debug
        case 2: .info
        case 3: .notice
        case 4: .warning
        case 5: .error
        default: .critical
        }
    }
}

extension Logger.Level {
    /// The name an operator writes and reads (`log_level`, the `[warn]` of a plain
    /// line): swift-log's seven levels folded onto error, warn, info and debug.
    public var eventLogName: String {
        switch self {
        case .trace, .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warn"
        case .error, .critical: "error"
        }
    }

    /// The syslog priority (RFC 5424's severity) the journal files the line under.
    public var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
