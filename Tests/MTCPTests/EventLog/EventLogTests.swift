import Glibc
import Logging
import Synchronization
import Testing
@testable import MTCPEventLog

/// The event log: one line per event, plain or with journal priorities, the
/// core and connection first; a shared level that a reload changes for every
/// logger; nothing built for an event the level filters out; peer-driven
/// events a line a second at most.
@Suite struct EventLogTests {
    /// A pipe's ends, non-blocking (an empty read returns at once).
    static func pipeDescriptors() -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0)
        precondition(fcntl(ends[0], F_SETFL, O_NONBLOCK) == 0)
        return (ends[0], ends[1])
    }

    static func readAvailable(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
    }

    static func logger(style: EventLogStyle, level: EventLogLevel, descriptor: Int32, core: Int?) -> Logger {
        var logger = Logger(label: "test") { _ in
            EventLogHandler(program: "mtcp-httpd", style: style, level: level, descriptor: descriptor)
        }
        if let core { logger[metadataKey: "core"] = "\(core)" }
        return logger
    }

    @Test func plainLinesNameTheLevelCoreAndConnection() {
        let (readEnd, writeEnd) = Self.pipeDescriptors()
        defer { close(readEnd); close(writeEnd) }
        let logger = Self.logger(style: .plain, level: EventLogLevel(.info), descriptor: writeEnd, core: 1)
        logger.warning("TLS handshake failed", metadata: ["connection": "12", "reason": "x"])
        logger.info("no place")
        #expect(Self.readAvailable(readEnd) == """
            mtcp-httpd: [warn] core 1, connection 12: TLS handshake failed reason=x
            mtcp-httpd: [info] core 1: no place

            """)
    }

    /// journald takes `<N>` as the syslog priority: error 3, warning 4, info 6, debug 7.
    @Test func journalLinesCarryTheSyslogPriority() {
        let (readEnd, writeEnd) = Self.pipeDescriptors()
        defer { close(readEnd); close(writeEnd) }
        let logger = Self.logger(style: .journal, level: EventLogLevel(.debug), descriptor: writeEnd, core: nil)
        logger.error("e")
        logger.warning("w")
        logger.info("i")
        logger.debug("d")
        #expect(Self.readAvailable(readEnd) == "<3>mtcp-httpd: e\n<4>mtcp-httpd: w\n<6>mtcp-httpd: i\n<7>mtcp-httpd: d\n")
    }

    @Test func anEventIsOneLineWhateverItsText() {
        let handler = EventLogHandler(program: "p", style: .plain, level: EventLogLevel(), descriptor: -1)
        let event = LogEvent(level: .error, message: "a\nforged line\r", metadata: nil, source: nil,
                             file: #fileID, function: #function, line: #line)
        #expect(handler.format(event) == "p: [error] a forged line ")
    }

    /// A reload's `log_level` reaches every logger made before it; a filtered
    /// event's message is never built.
    @Test func theSharedLevelFiltersBeforeTheMessageIsBuilt() {
        let (readEnd, writeEnd) = Self.pipeDescriptors()
        defer { close(readEnd); close(writeEnd) }
        let level = EventLogLevel(.warning)
        let logger = Self.logger(style: .plain, level: level, descriptor: writeEnd, core: 0)
        let built = Mutex(0)
        func message() -> String {
            built.withLock { $0 += 1 }
            return "details"
        }
        logger.debug("\(message())")
        logger.info("\(message())")
        #expect(built.withLock { $0 } == 0)
        #expect(Self.readAvailable(readEnd) == "")
        level.level = .debug
        logger.debug("\(message())")
        #expect(built.withLock { $0 } == 1)
        #expect(Self.readAvailable(readEnd) == "mtcp-httpd: [debug] core 0: details\n")
    }

    @Test func levelNames() {
        #expect([Logger.Level.error, .warning, .info, .debug].map(\.eventLogName) == ["error", "warn", "info", "debug"])
        for level in Logger.Level.allCases { #expect(EventLogLevel(level).level == level) }
    }

    /// The journal style only when $JOURNAL_STREAM names standard error's own
    /// device and inode (a redirection by hand keeps the variable, not the stream).
    @Test func journalStyleOnlyForTheJournalsOwnStream() {
        let (readEnd, writeEnd) = Self.pipeDescriptors()
        defer { close(readEnd); close(writeEnd) }
        var status = stat()
        #expect(fstat(writeEnd, &status) == 0)
        #expect(EventLogStyle.matches("\(status.st_dev):\(status.st_ino)", descriptor: writeEnd))
        #expect(!EventLogStyle.matches("\(status.st_dev):\(status.st_ino &+ 1)", descriptor: writeEnd))
        #expect(!EventLogStyle.matches("garbage", descriptor: writeEnd))
    }

    @Test func rateLimitShowsALineASecondAndCountsTheRest() {
        var limit = EventRateLimit()
        #expect(limit.admit(second: 10) == 0)
        #expect(limit.admit(second: 10) == nil)
        #expect(limit.admit(second: 10) == nil)
        #expect(limit.admit(second: 11) == 2)
        #expect(limit.admit(second: 12) == 0)
        #expect(EventRateLimit.suffix(2, what: "failures") == " (2 more failures not shown)")
        #expect(EventRateLimit.suffix(0, what: "failures") == "")
    }
}
