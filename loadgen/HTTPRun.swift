import Glibc
import ArgumentParser
import MTCP
import MTCPRuntime

/// An HTTP run from start to exit status: the plan from the command line,
/// the engines, the progress lines, the summary, the JSON report.
struct HTTPRun {
    let command: LoadgenCommand

    /// The plan the command line asks for (files read, requests prepared).
    func plan() throws(LoadgenError) -> HTTPPlan {
        let base = try HTTPTarget(url: command.url)
        let workload: Workload
        if command.mix == .cellular {
            workload = Workload.cellularMix(base: base)
        } else if let urls = command.urls {
            workload = try Workload(listText: String(decoding: try readFileBytes(urls), as: UTF8.self), base: base)
        } else {
            workload = Workload(single: base)
        }
        let builder = RequestBuilder(http10: command.http10, requestsPerConnection: command.requestsPerConnection,
                                     extraHeaders: command.headers)
        var expectedBodies: [[UInt8]?] = Array(repeating: nil, count: workload.entries.count)
        if let directory = command.verifyBody {
            for (index, entry) in workload.entries.enumerated() {
                let path = entry.target.path.prefix { $0 != "?" }
                guard !path.split(separator: "/").contains("..") else {
                    throw LoadgenError("--verify-body: \(path) leaves \(directory)")
                }
                expectedBodies[index] = try readFileBytes(directory + path)
            }
        }
        return HTTPPlan(
            workload: workload, requests: workload.entries.map { builder.request(for: $0.target) },
            expectedBodies: expectedBodies, expectedSHA256: command.expectSha256.flatMap(LoadgenCommand.hexBytes),
            expectedStatus: command.expectStatus, totalRequests: command.totalFlows,
            duration: command.duration.map(Self.span), warmup: Self.span(command.warmup),
            concurrency: command.concurrency, requestsPerConnection: command.requestsPerConnection,
            rate: command.rate, connectTimeout: Self.span(command.connectTimeout),
            readTimeout: Self.span(command.timeout ?? 10), seed: command.seed,
            tls: command.tls || workload.entries[0].target.isTLS, tlsResume: command.tlsResume,
            wallClockOffset: Self.wallClockOffset())
    }

    static func span(_ seconds: Double) -> TimeSpan { TimeSpan(nanoseconds: UInt64(seconds * 1e9)) }

    /// Unix time minus the monotonic clock, now.
    static func wallClockOffset() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - Int64(MonotonicClock.now().nanoseconds)
    }

    func run(_ runtime: StackRuntime) throws {
        let plan = try plan()
        let cores = runtime.configuration.numCores
        try plan.check(cores: cores)
        let board = LoadBoard(cores: cores)
        let reporter = ProgressReporter(board: board, quiet: false)
        reporter.start()
        // No idle sleeping: a load generator that naps adds its own latency.
        let outcome = try runtime.run(idle: .poll) { core in
            HTTPLoad(plan: plan, core: core, cores: cores, board: board)
        }
        reporter.stop()
        let result = LoadResult(plan: plan, cores: cores, counts: board.total, histograms: board.histograms,
                                measuredFrom: board.times.measuring, seconds: board.seconds,
                                failures: outcome.failures,
                                busyPercentByCore: outcome.cores.map(\.busyPercentSinceStart))
        let summary = LoadSummary(result: result, url: command.url).text
        print(summary, terminator: "")
        if let output = command.output { try writeFileText(output, summary) }
        if let json = command.json { try writeFileText(json, JSONReport(result: result, url: command.url).text()) }
        for failure in outcome.failures { print("mtcp-loadgen: \(failure)") }
        if let reason = result.failureReason(maximumErrorRate: command.maxErrorRate) {
            print("mtcp-loadgen: \(reason)")
            throw ExitCode.failure
        }
    }
}
