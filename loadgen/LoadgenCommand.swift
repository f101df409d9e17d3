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

    @Option(name: .customShort("N"), help: "Cores (engines); overrides num_cores of the configuration.")
    var cores: Int?

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
        if let cores, !(1...128).contains(cores) { throw ValidationError("-N must be 1...128") }
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
            var runtime = try StackRuntime(programName: "mtcp-loadgen", configurationPath: config)
            if let cores { runtime.configuration.numCores = cores }
            let engines = runtime.configuration.numCores
            var random = SeededRandom(seed: seed)
            let payload = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let tally = EchoTally(total: totalFlows)
            let (total, concurrency, deadline) = (totalFlows, concurrency, TimeSpan.seconds(timeout))
            let started = MonotonicClock.now()
            let outcome = try runtime.run(idleBackoff: IdleBackoff(maximumSleepMicroseconds: 0)) { core in
                // Core k takes flows k, k+N, k+2N, ... and a like share of the concurrency.
                EchoLoad(server: address, port: port, total: share(total, core, engines),
                         concurrency: max(1, share(concurrency, core, engines)), payload: payload,
                         deadline: deadline, tally: tally)
            }
            let elapsed = MonotonicClock.now().since(started)
            let result = tally.result
            print("echo: completed \(result.completed) of \(totalFlows), failed \(result.failed), "
                + "bytes verified \(result.bytesVerified), in \(elapsed) on \(engines) core\(engines == 1 ? "" : "s")")
            print(outcome.total.tcp.report)
            for failure in outcome.failures { print("mtcp-loadgen: \(failure)") }
            if result.completed != totalFlows || !outcome.failures.isEmpty { throw ExitCode.failure }
        } catch let error as ConfigurationError {
            exitWithStartupFailure("mtcp-loadgen", "configuration error: \(error)")
        } catch let error as DPDKError {
            exitWithStartupFailure("mtcp-loadgen", "start-up failed: \(error)")
        }
    }
}

/// Core `core`'s share of `count` split over `cores`: the first `count % cores` get one more.
private func share(_ count: Int, _ core: Int, _ cores: Int) -> Int {
    count / cores + (core < count % cores ? 1 : 0)
}
