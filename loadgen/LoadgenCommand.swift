import ArgumentParser
import Glibc
import MTCP
import MTCPConfig
import MTCPRuntime

@main
struct LoadgenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtcp-loadgen",
        abstract: "Load generator on the mtcp-swift stack.",
        discussion: """
            Invocation follows mTCP's epwget: URL TOTAL_FLOWS [-N cores] [-c concurrency]. \
            This release supports echo://HOST:PORT (RFC 862): each flow sends --bytes \
            seeded random bytes, half-closes and verifies the echo. HTTP workloads are \
            not built yet.
            """)

    @Argument(help: "Target, e.g. echo://198.18.0.2:7000.")
    var url: String

    @Argument(help: "Total number of flows.")
    var totalFlows: Int

    @Option(name: .customShort("N"), help: "Cores (engines); this release runs one.")
    var cores = 1

    @Option(name: .customShort("c"), help: "Concurrent flows.")
    var concurrency = 1

    @Option(help: "Bytes each echo flow sends.")
    var bytes = 1024

    @Option(help: "Seed of the payload bytes.")
    var seed: UInt64 = 1

    @Option(help: "Give up after this many seconds; unfinished flows count as failed.")
    var timeout: UInt64 = 60

    @Option(name: .long, help: "Stack configuration file (mtcp.conf format).")
    var config = "conf/loadgen.conf"

    func validate() throws {
        guard totalFlows > 0 else { throw ValidationError("TOTAL_FLOWS must be at least 1") }
        guard concurrency > 0 else { throw ValidationError("-c must be at least 1") }
        guard cores == 1 else { throw ValidationError("-N: this release runs one engine (multi-core is not built yet)") }
        guard bytes >= 0 else { throw ValidationError("--bytes must not be negative") }
        _ = try target()
    }

    /// The echo target of `url`.
    func target() throws -> (IPv4Address, UInt16) {
        let prefix = "echo://"
        guard url.hasPrefix(prefix) else {
            throw ValidationError("\(url): only echo://HOST:PORT is supported in this release (HTTP is not built yet)")
        }
        let parts = url.dropFirst(prefix.count).split(separator: ":")
        guard parts.count == 2, let address = IPv4Address(parts[0]), let port = UInt16(parts[1]), port > 0 else {
            throw ValidationError("\(url): expected echo://A.B.C.D:PORT")
        }
        return (address, port)
    }

    func run() throws {
        let (address, port) = try target()
        do {
            let runtime = try StackRuntime(programName: "mtcp-loadgen", configurationPath: config)
            var load = EchoLoad(server: address, port: port, total: totalFlows, concurrency: concurrency,
                                bytes: bytes, seed: seed, maxConnections: runtime.configuration.maxConcurrency,
                                deadline: .seconds(timeout))
            let started = MonotonicClock.now()
            let (_, tcp) = try runtime.run(&load, idleBackoff: IdleBackoff(maximumSleepMicroseconds: 0))
            let elapsed = MonotonicClock.now().since(started)
            let outcome = load.outcome
            print("echo: completed \(outcome.completed) of \(totalFlows), failed \(outcome.failed), "
                + "bytes verified \(outcome.bytesVerified), in \(elapsed)")
            print(tcp.report)
            if outcome.completed != totalFlows { throw ExitCode.failure }
        } catch let error as ConfigurationError {
            exitWithStartupFailure("mtcp-loadgen", "configuration error: \(error)")
        } catch let error as DPDKError {
            exitWithStartupFailure("mtcp-loadgen", "start-up failed: \(error)")
        }
    }
}
