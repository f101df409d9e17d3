import ArgumentParser
import Glibc
import MTCP
import MTCPConfig
import MTCPRuntime

@main
struct HTTPDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtcp-httpd",
        abstract: "The mtcp-swift appliance: a user-level TCP/IP stack on DPDK.",
        discussion: """
            Reads the stack configuration (mTCP's mtcp.conf format, with arp.conf and \
            route.conf beside it), starts DPDK's EAL and the configured port, and runs \
            the per-core engine until SIGINT or SIGTERM. This release answers ARP and \
            ICMP echo and serves TCP echo (RFC 862) and discard (RFC 863); the HTTP \
            server is not built yet.
            """)

    @Option(help: "TCP port of the echo service (RFC 862); 0 turns it off.")
    var echoPort: UInt16 = 7

    @Option(help: "TCP port of the discard service (RFC 863); 0 turns it off.")
    var discardPort: UInt16 = 9

    @Option(help: "TCP port of the daytime service (RFC 867; the server closes first); 0 (default) turns it off.")
    var daytimePort: UInt16 = 0

    @Option(name: .shortAndLong, help: "Stack configuration file (mtcp.conf format).")
    var config = "conf/mtcp.conf"

    @Flag(help: "Never sleep when idle (lowest latency, one core at 100%).")
    var busyPoll = false

    func run() throws {
        do {
            let runtime = try StackRuntime(programName: "mtcp-httpd", configurationPath: config)
            let (echoPort, discardPort) = (echoPort == 0 ? nil : echoPort, discardPort == 0 ? nil : discardPort)
            let daytimePort = daytimePort == 0 ? nil : daytimePort
            let backoff = busyPoll ? IdleBackoff(maximumSleepMicroseconds: 0) : IdleBackoff()
            let outcome = try runtime.run(idleBackoff: backoff) { _ in
                TCPServices(echoPort: echoPort, discardPort: discardPort, daytimePort: daytimePort)
            }
            let total = outcome.total
            print("mtcp-httpd: stopped\n" + total.engine.report + "\n" + total.tcp.report)
            for failure in outcome.failures { print("mtcp-httpd: \(failure)") }
            if !outcome.failures.isEmpty { throw ExitCode.failure }
        } catch let error as ConfigurationError {
            exitWithStartupFailure("mtcp-httpd", "configuration error: \(error)")
        } catch let error as DPDKError {
            exitWithStartupFailure("mtcp-httpd", "start-up failed: \(error)")
        }
    }
}
