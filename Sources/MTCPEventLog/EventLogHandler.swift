import Glibc
import Logging

/// swift-log's handler for the appliance's event log: one line per event,
/// written with a single `write(2)` so lines of different cores never mix
/// (each is far below PIPE_BUF), to standard error by default.
///
///     mtcp-httpd: [warn] core 0, connection 12: TLS handshake failed from 198.18.0.2: ...
///     <4>mtcp-httpd: core 0, connection 12: TLS handshake failed from 198.18.0.2: ...
///
/// The `core` and `connection` metadata, where the logger or the event has
/// them, come first; any other metadata follows the message as `key=value`.
/// The level is the shared `EventLogLevel` (a reload changes it for every core).
public struct EventLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public let program: String
    public let style: EventLogStyle
    private let threshold: EventLogLevel
    private let descriptor: Int32

    public init(program: String, style: EventLogStyle, level: EventLogLevel, descriptor: Int32 = STDERR_FILENO) {
        self.program = program
        self.style = style
        threshold = level
        self.descriptor = descriptor
    }

    public var logLevel: Logger.Level {
        get { threshold.level }
        set { threshold.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Array(format(event).utf8)
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }  // nowhere left to report it
                offset += written
            }
        }
    }

    /// The line without its newline.
    func format(_ event: LogEvent) -> String {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = style == .journal ? "<\(event.level.syslogPriority)>\(program): " : "\(program): [\(event.level.eventLogName)] "
        let place = [all.removeValue(forKey: "core").map { "core \($0)" },
                     all.removeValue(forKey: "connection").map { "connection \($0)" }].compactMap { $0 }
        if !place.isEmpty { line += place.joined(separator: ", ") + ": " }
        line += event.message.description
        for (key, value) in all.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        // One event, one line: a newline in a reason (an OpenSSL error queue) must not start a forged one.
        return String(line.map { $0.isNewline ? " " : $0 })
    }
}
