import ArgumentParser
import Glibc
import MTCP
import MTCPConfig
import MTCPRuntime

@main
struct LoadgenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtcp-loadgen",
        abstract: "Load generator on the mtcp-swift stack: short HTTP flows, measured honestly.",
        discussion: """
            Invocation follows mTCP's epwget: URL TOTAL_FLOWS [-N cores] [-c concurrency] [-o file] [-f config], \
            with wrk-like options. URL is http://A.B.C.D[:PORT]/PATH or http://[IPV6][:PORT]/PATH (no \
            resolver) or echo://A.B.C.D:PORT (RFC 862: each flow sends --bytes seeded bytes, \
            half-closes and verifies the echo).

            HTTP: TOTAL_FLOWS is the number of requests (all cores together); with -d the run \
            lasts that long instead (after --warmup), and TOTAL_FLOWS, if also given, caps it. \
            Closed loop by default: -c connections, each with one request outstanding. With \
            --rate R the run is open loop: requests start at R per second whatever the server \
            does, on up to -c connections, and latency counts from each request's intended \
            start (coordinated omission corrected, as wrk2 does). Every response is checked: \
            status, framing (Content-Length, chunked, close-delimited), optionally the body. \
            Errors are counted by class: connect timeout, refused/reset, bad status, short or \
            malformed response, body mismatch, read timeout, local (this side's limits).

            Latency counts from the request's start: for a new connection that is the \
            connect() call (the handshake is part of a short flow's cost), for a reused one \
            the write, in open loop the intended start. Requests that timed out (at their \
            timeout) and that never finished (at the run's end) are in the percentiles; \
            other failures are not. Connect time and time to first byte are reported separately.

            The stack's own configuration (its address, port, cores) comes from --config. \
            With -N > 1 each core opens connections whose replies reach it (memif: paired queues; \
            RSS: chosen source ports; other ports: segments forwarded between cores).

            Exit status: 1 when the run cannot start, when no request completed, or when the \
            error rate exceeds --max-error-rate.

            `mtcp-loadgen merge A.json B.json ... [--json OUT]` adds the reports of runs made at the \
            same time (several hosts or loadgens): see `mtcp-loadgen merge --help`.
            """)

    /// `merge` is a command of its own; anything else is a run.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "merge" {
            MergeCommand.main(Array(arguments.dropFirst()))
        } else {
            main(arguments)
        }
    }

    @Argument(help: "http://A.B.C.D[:PORT]/PATH, http://[IPV6][:PORT]/PATH or echo://A.B.C.D:PORT.")
    var url: String

    @Argument(help: "Total number of requests (HTTP) or flows (echo); optional with -d.")
    var totalFlows: Int?

    @Option(name: .customShort("N"), help: "Cores (engines); overrides num_cores of the configuration.")
    var cores: Int?

    @Option(name: .customShort("c"), help: "Concurrent connections, over all cores.")
    var concurrency = 1

    @Option(name: .customShort("o"), help: "Also write the final summary to this file.")
    var output: String?

    @Option(name: .customShort("d"), help: "HTTP: seconds to keep starting requests, after the warm-up.")
    var duration: Double?

    @Option(help: "HTTP: seconds of warm-up at the start, excluded from every figure.")
    var warmup = 0.0

    @Option(help: "HTTP: open loop at this many requests per second (all cores); closed loop without it.")
    var rate: Double?

    @Option(help: "HTTP: requests per connection (keep-alive); 1 sends Connection: close.")
    var requestsPerConnection = 1

    @Option(name: .customShort("H"), help: "HTTP: an extra request header, 'Name: value' (repeatable).")
    var headers: [String] = []

    @Flag(name: .customLong("http1.0"), help: "HTTP: send HTTP/1.0 requests instead of HTTP/1.1.")
    var http10 = false

    @Option(help: "HTTP: a file of URLs or paths, one per line with an optional weight: 'URL [WEIGHT]'.")
    var urls: String?

    @Option(help: "HTTP: a flow-size mix instead of URL's path; 'cellular' = 90% under 32 KB, 60% under 4 KB, over /bench/ files.")
    var mix: SizeMix?

    @Option(help: "HTTP: check every body against the file at DIR + the URL's path (e.g. www).")
    var verifyBody: String?

    @Option(help: "HTTP: check every body's SHA-256 (64 hex digits).")
    var expectSha256: String?

    @Option(help: "HTTP: the status every response must have.")
    var expectStatus: UInt16 = 200

    @Option(help: "HTTP: seconds for the handshake before a connect timeout.")
    var connectTimeout = 3.0

    @Option(help: "HTTP: seconds from a request to its complete response (default 10). Echo: the whole run's limit (default 60).")
    var timeout: Double?

    @Option(help: "Exit with status 1 when errors / attempted requests exceed this fraction (0: any error).")
    var maxErrorRate = 0.0

    @Flag(help: "HTTP: TLS on every connection (an https:// URL implies it); the server's certificate is not checked.")
    var tls = false

    @Flag(help: "HTTP over TLS: resume sessions; each connection after a core's first offers the latest session (ticket).")
    var tlsResume = false

    @Option(help: "HTTP: write the figures and the per-second series as JSON to this file.")
    var json: String?

    @Option(help: "Echo: bytes each flow sends.")
    var bytes = 1024

    @Option(help: "Seed of the echo payload and of the workload's random choices.")
    var seed: UInt64 = 1

    @Option(name: [.customLong("config"), .customShort("f")],
            help: "Stack configuration file (mtcp.conf format); -f as in mTCP's epwget.")
    var config = "conf/loadgen.conf"

    /// The flow-size mixes `--mix` knows.
    enum SizeMix: String, ExpressibleByArgument, CaseIterable {
        case cellular
    }

    var isEcho: Bool { url.hasPrefix("echo://") }

    func validate() throws {
        if let totalFlows, totalFlows <= 0 { throw ValidationError("TOTAL_FLOWS must be at least 1") }
        guard concurrency > 0 else { throw ValidationError("-c must be at least 1") }
        if let cores, !(1...128).contains(cores) { throw ValidationError("-N must be 1...128") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        guard (0...1).contains(maxErrorRate) else { throw ValidationError("--max-error-rate must be 0...1") }
        if isEcho {
            _ = try echoTarget()
            guard totalFlows != nil else { throw ValidationError("echo:// needs TOTAL_FLOWS") }
            guard bytes >= 0 else { throw ValidationError("--bytes must not be negative") }
            let httpOnly: [(Bool, String)] = [
                (duration != nil, "-d"), (rate != nil, "--rate"), (warmup != 0, "--warmup"),
                (requestsPerConnection != 1, "--requests-per-connection"), (!headers.isEmpty, "-H"),
                (http10, "--http1.0"), (urls != nil, "--urls"), (mix != nil, "--mix"),
                (verifyBody != nil, "--verify-body"), (expectSha256 != nil, "--expect-sha256"), (json != nil, "--json"),
                (tls, "--tls"), (tlsResume, "--tls-resume"),
            ]
            if let (_, option) = httpOnly.first(where: \.0) { throw ValidationError("\(option) applies to http:// only") }
            return
        }
        let target: HTTPTarget
        do {
            target = try HTTPTarget(url: url)
            for header in headers { try RequestBuilder.validate(header: header) }
        } catch {
            throw ValidationError(error.description)
        }
        if tlsResume && !(tls || target.isTLS) { throw ValidationError("--tls-resume needs --tls or an https:// URL") }
        guard totalFlows != nil || duration != nil else { throw ValidationError("give TOTAL_FLOWS or -d DURATION") }
        if let duration, !(duration > 0) { throw ValidationError("-d must be positive") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be positive") }
        guard warmup >= 0 && warmup.isFinite else { throw ValidationError("--warmup must not be negative") }
        guard requestsPerConnection >= 1 else { throw ValidationError("--requests-per-connection must be at least 1") }
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be positive") }
        guard urls == nil || mix == nil else { throw ValidationError("--urls and --mix exclude each other") }
        if let expectSha256, Self.hexBytes(expectSha256)?.count != 32 {
            throw ValidationError("--expect-sha256 needs 64 hexadecimal digits")
        }
        guard (100...999).contains(expectStatus) else { throw ValidationError("--expect-status must be 100...999") }
    }

    /// The echo target of `url`.
    func echoTarget() throws -> (IPv4Address, UInt16) {
        let parts = url.dropFirst("echo://".count).split(separator: ":")
        guard parts.count == 2, let address = IPv4Address(parts[0]), let port = UInt16(parts[1]), port > 0 else {
            throw ValidationError("\(url): expected echo://A.B.C.D:PORT")
        }
        return (address, port)
    }

    /// The bytes of a hexadecimal string, nil if it is not one.
    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return bytes
    }

    func run() throws {
        do {
            var runtime = try StackRuntime(programName: "mtcp-loadgen", configurationPath: config)
            if let cores { runtime.configuration.numCores = cores }
            if isEcho {
                try runEcho(runtime)
            } else {
                try HTTPRun(command: self).run(runtime)
            }
        } catch let error as ConfigurationError {
            exitWithStartupFailure("mtcp-loadgen", "configuration error: \(error)")
        } catch let error as DPDKError {
            exitWithStartupFailure("mtcp-loadgen", "start-up failed: \(error)")
        } catch let error as LoadgenError {
            exitWithStartupFailure("mtcp-loadgen", error.description)
        }
    }

    private func runEcho(_ runtime: StackRuntime) throws {
        let (address, port) = try echoTarget()
        let engines = runtime.configuration.numCores
        var random = SeededRandom(seed: seed)
        let payload = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let totalFlows = self.totalFlows ?? 0
        let tally = EchoTally(total: totalFlows)
        let (total, concurrency) = (totalFlows, concurrency)
        let deadline = TimeSpan(nanoseconds: UInt64((timeout ?? 60) * 1e9))
        let started = MonotonicClock.now()
        let outcome = try runtime.run(idle: .poll) { core in
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
    }
}
