import ArgumentParser
import Glibc
import Logging
import MTCP
import MTCPConfig
import MTCPEventLog
import MTCPHTTP
import MTCPHTTPServer
import MTCPTLS
import MTCPRuntime
import MTCPServices

@main
struct HTTPDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtcp-httpd",
        abstract: "The mtcp-swift appliance: a user-level TCP/IP stack on DPDK.",
        discussion: """
            Reads the stack configuration (mTCP's mtcp.conf format, with arp.conf and \
            route.conf beside it), starts DPDK's EAL and the configured port, and runs \
            the per-core engines until SIGINT or SIGTERM. Every core serves HTTP/1.1 \
            from the document root (static files from a per-core cache of pre-built \
            responses), TCP echo (RFC 862) and discard (RFC 863).
            """)

    @Option(help: "HTTP server configuration (JSON: port, root, limits, timeouts, proxy routes).")
    var httpConfig = "conf/httpd.json"

    @Option(help: "Document root served over HTTP (overrides document_root).")
    var root: String?

    @Option(help: "TCP port of the HTTP server (overrides listen_port).")
    var httpPort: UInt16?

    @Option(help: "Write the access log to this file (turns access_log on).")
    var accessLog: String?

    @Option(help: "Access log lines: combined or json (overrides access_log_format).")
    var accessLogFormat: HTTPAccessLog.Format?

    @Option(help: "TCP port of the echo service (RFC 862); 0 turns it off.")
    var echoPort: UInt16 = 7

    @Option(help: "TCP port of the discard service (RFC 863); 0 turns it off.")
    var discardPort: UInt16 = 9

    @Option(help: "TCP port of the daytime service (RFC 867; the server closes first); 0 (default) turns it off.")
    var daytimePort: UInt16 = 0

    @Option(name: .shortAndLong, help: "Stack configuration file (mtcp.conf format).")
    var config = "conf/mtcp.conf"

    @Flag(help: "Never sleep when idle (lowest latency, one core at 100%): mtcp.conf's `idle = poll`.")
    var busyPoll = false

    @Flag(help: """
        Check every configuration file (mtcp.conf, arp.conf, route.conf, httpd.json, the document root, \
        the TLS certificate and key), print each problem with its file and line, and exit: 0 when all \
        are usable, 1 otherwise. DPDK is not started.
        """)
    var checkConfig = false

    func run() throws {
        if checkConfig { try checkConfiguration() }
        do {
            let runtime = try StackRuntime(programName: "mtcp-httpd", configurationPath: config)
            let (echoPort, discardPort) = (echoPort == 0 ? nil : echoPort, discardPort == 0 ? nil : discardPort)
            let daytimePort = daytimePort == 0 ? nil : daytimePort
            let configuration = try ReloadableConfiguration(
                stackConfigurationPath: config, httpConfigurationPath: httpConfig,
                overrides: .init(documentRoot: root, listenPort: httpPort, accessLogPath: accessLog,
                                 accessLogFormat: accessLogFormat))
            let eventLog = runtime.eventLog
            eventLog.level.level = Logger.Level(configuration.current.options.logLevel)
            let outcome = try runtime.run(idle: busyPoll ? .poll : nil, prepareReload: { Self.reload(configuration, eventLog) }) { core in
                Appliance(http: try HTTPServer(options: configuration.current.options,
                                               configurationSource: configuration, logger: eventLog.logger(core: core)),
                          services: TCPServices(echoPort: echoPort, discardPort: discardPort,
                                                daytimePort: daytimePort))
            }
            let total = outcome.total
            print("mtcp-httpd: stopped\n" + total.engine.report + "\n" + (outcome.port.map { $0.report + "\n" } ?? "")
                  + total.tcp.report + "\n" + total.application.report)
            for failure in outcome.failures { print("mtcp-httpd: \(failure)") }
            if !outcome.failures.isEmpty { throw ExitCode.failure }
        } catch let error as HTTPConfigurationError {
            exitWithStartupFailure("mtcp-httpd", "configuration error: \(error)")
        } catch let error as ConfigurationError {
            exitWithStartupFailure("mtcp-httpd", "configuration error: \(error)")
        } catch let error as DPDKError {
            exitWithStartupFailure("mtcp-httpd", "start-up failed: \(error)")
        }
    }

    /// SIGHUP, on the management thread: the files read and checked once; the
    /// verdict logged, with every problem of a refused one and every key that
    /// waits for a restart; a new `log_level` in force at once, on every core.
    private static func reload(_ configuration: ReloadableConfiguration, _ eventLog: EventLog) -> Bool {
        let logger = eventLog.logger()
        let outcome = configuration.reload()
        if let refusal = outcome.refusal {
            for problem in refusal.split(separator: "\n") { logger.error("reload refused: \(problem)") }
            logger.error("reload refused: still running the previous configuration")
            return false
        }
        eventLog.level.level = Logger.Level(configuration.current.options.logLevel)
        logger.info("reload: configuration \(configuration.current.generation) read; every core takes it")
        if !outcome.awaitingRestart.isEmpty {
            logger.warning("reload: changed but kept as running until a restart: \(outcome.awaitingRestart.joined(separator: ", "))")
        }
        return true
    }

    /// `--check-config`: problems on standard error, a verdict, and the exit status.
    private func checkConfiguration() throws -> Never {
        let check = ConfigurationCheck(stackConfigurationPath: config, httpConfigurationPath: httpConfig,
                                       documentRootOverride: root)
        let problems = check.problems()
        guard problems.isEmpty else {
            var text = problems.map { "mtcp-httpd: \($0)\n" }.joined()
            text += "mtcp-httpd: configuration check failed: \(problems.count) problem\(problems.count == 1 ? "" : "s")\n"
            _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            throw ExitCode.failure
        }
        print("mtcp-httpd: configuration ok: \(config) (with its arp.conf and route.conf) and \(httpConfig)")
        throw ExitCode.success
    }
}

extension HTTPAccessLog.Format: ExpressibleByArgument {}
