import Histogram
import MTCP
import MTCPHTTP
import Testing

@testable import mtcp_loadgen

@Suite struct HistogramFigureTests {
    @Test func percentilesOfAKnownDistribution() {
        var histograms = LatencyHistograms(entries: 1)
        // 1..1000 ms, one sample each: p50 ~ 500 ms, p90 ~ 900 ms, p99 ~ 990 ms, max 1000 ms.
        for millisecond in 1...1000 { histograms.latency.record(.milliseconds(UInt64(millisecond))) }
        let figures = Distribution(histograms.latency)
        #expect(figures.count == 1000)
        let values = figures.percentiles.map(\.value)
        // Three significant digits: within 0.1% of the exact values.
        for (value, exact) in zip(values, [500_000.0, 900_000, 990_000, 999_000]) {
            #expect(abs(value - exact) <= exact * 0.001, "\(value) vs \(exact)")
        }
        #expect(abs(figures.max - 1_000_000) <= 1000)
        #expect(abs(figures.mean - 500_500) <= 500)
    }

    @Test func valuesAreClampedToTheTrackableRange() {
        var histograms = LatencyHistograms(entries: 1)
        histograms.latency.record(.zero)
        histograms.latency.record(.seconds(1000))
        #expect(histograms.latency.totalCount == 2)
        #expect(histograms.latency.min == 1)
        #expect(histograms.latency.max >= LatencyHistograms.highestNanoseconds)
    }

    @Test func coresMergeIntoOneDistribution() {
        var first = LatencyHistograms(entries: 1)
        var second = LatencyHistograms(entries: 1)
        for _ in 0..<90 { first.latency.record(.microseconds(100)) }
        for _ in 0..<10 { second.latency.record(.microseconds(10_000)) }
        first.add(second)
        let figures = Distribution(first.latency)
        #expect(figures.count == 100)
        #expect(abs(figures.percentiles[0].value - 100) <= 0.1)  // p50
        #expect(figures.percentiles[2].value >= 9_990)  // p99 comes from the slow core
    }

    @Test func perURLDistributionsMergeEntryByEntry() {
        var first = LatencyHistograms(entries: 2)
        var second = LatencyHistograms(entries: 2)
        first.latencyByEntry[0].record(.microseconds(50))
        second.latencyByEntry[1].record(.microseconds(7000))
        second.latencyByEntry[1].record(.microseconds(7000))
        first.add(second)
        #expect(first.latencyByEntry[0].totalCount == 1)
        #expect(first.latencyByEntry[1].totalCount == 2)
        #expect(Distribution(first.latencyByEntry[1]).percentiles[0].value >= 6_990)
    }

    @Test func emptyDistributionReadsAsZeros() {
        let figures = Distribution(LatencyHistograms(entries: 1).latency)
        #expect(figures.count == 0 && figures.max == 0 && figures.percentiles.allSatisfy { $0.value == 0 })
    }
}

@Suite struct OpenLoopScheduleTests {
    @Test func coresInterleaveIntoOneConstantRate() {
        let start = Instant(nanoseconds: 5_000_000_000)
        let cores = 3
        let schedules = (0..<cores).map { OpenLoopSchedule(start: start, rate: 1000, core: $0, cores: cores) }
        // The union of all cores' starts is one request every millisecond.
        var starts: [UInt64] = []
        for schedule in schedules {
            for index in 0..<400 { starts.append(schedule.intendedStart(of: index).since(start).nanoseconds) }
        }
        starts.sort()
        for (index, offset) in starts.enumerated() {
            #expect(offset == UInt64(index) * 1_000_000)
        }
    }

    @Test func fractionalRatesDoNotDrift() {
        let schedule = OpenLoopSchedule(start: .zero, rate: 3, core: 0, cores: 1)
        // 3 per second: request 3,000,000 starts exactly at 1,000,000 s.
        #expect(schedule.intendedStart(of: 3_000_000).nanoseconds == 1_000_000 * 1_000_000_000)
        #expect(schedule.intendedStart(of: 1).nanoseconds == 333_333_333)
    }
}

@Suite struct ErrorClassificationTests {
    @Test func socketErrors() {
        #expect(ErrorClass(.connectionRefused, established: false) == .refusedOrReset)
        #expect(ErrorClass(.connectionReset, established: true) == .refusedOrReset)
        #expect(ErrorClass(.timedOut, established: false) == .connectTimeout)
        #expect(ErrorClass(.timedOut, established: true) == .readTimeout)
        #expect(ErrorClass(.noResources, established: false) == .local)
        #expect(ErrorClass(.addressInUse, established: false) == .local)
    }

    @Test func parseErrors() {
        #expect(ErrorClass(HTTPResponseParseError.truncated) == .shortResponse)
        for error in [HTTPResponseParseError.invalidStatusLine, .invalidChunk, .conflictingFraming, .invalidHeader] {
            #expect(ErrorClass(error) == .malformedResponse)
        }
    }

    @Test func countsAddUpPerClass() {
        var counts = ErrorCounts()
        counts[.badStatus] += 2
        counts[.readTimeout] += 1
        let sum = counts + counts
        #expect(sum.total == 6 && sum[.badStatus] == 4 && sum[.local] == 0)
        #expect(Set(ErrorClass.allCases.map(\.name)).count == ErrorClass.allCases.count)
    }

    @Test func boardSumsCoresAndFinishesWhenAllHave() {
        let board = LoadBoard(cores: 2)
        var a = LoadCounts()
        a.attempted = 10
        a.completed = 7
        a.errors[.shortResponse] = 3
        a.finished = true
        var b = LoadCounts()
        b.attempted = 5
        b.completed = 5
        board.publish(core: 0, a)
        board.publish(core: 1, b)
        let total = board.total
        #expect(total.attempted == 15 && total.completed == 12 && total.errors.total == 3)
        #expect(!total.finished)
    }
}

@Suite struct WorkloadTests {
    let base = try! HTTPTarget(url: "http://198.18.0.1:8080/index.html")

    @Test func targetsParse() throws {
        #expect(base.address == IPAddress(IPv4Address(198, 18, 0, 1)) && base.port == 8080 && base.path == "/index.html")
        #expect(base.host == "198.18.0.1:8080")
        let bare = try HTTPTarget(url: "http://10.0.0.1")
        #expect(bare.port == 80 && bare.path == "/")
        let secure = try HTTPTarget(url: "https://10.0.0.1/a")
        #expect(secure.isTLS && secure.port == 443 && secure.url == "https://10.0.0.1/a")
        #expect(try HTTPTarget(url: "https://10.0.0.1:8443").port == 8443)
        #expect(!bare.isTLS)
        let v6 = try HTTPTarget(url: "http://[2001:2::1]/")
        #expect(v6.address == IPAddress("2001:2::1")! && v6.port == 80 && v6.host == "[2001:2::1]" && v6.path == "/")
        #expect(try HTTPTarget(url: "http://[2001:2::1]:8080/x").port == 8080)
        for bad in ["ftp://1.2.3.4/", "https//1.2.3.4/", "http://host/", "http://1.2.3.4:0/", "http://1.2.3.4:99999/", "http://1.2.3.4/a b",
                    "http://[2001:2::1/", "http://[2001:2::1]x/", "http://[1.2.3.4]/", "http://2001:2::1/"] {
            #expect(throws: LoadgenError.self, "\(bad)") { try HTTPTarget(url: bad) }
        }
    }

    @Test func cellularMixMatchesTheFlowSizeFigures() {
        let mix = Workload.cellularMix(base: base)
        let sizes = ["/bench/64.html": 64, "/bench/1k.html": 1024, "/bench/4k.html": 4096,
                     "/bench/32k.html": 32768, "/bench/1m.bin": 1 << 20]
        let total = mix.entries.reduce(0) { $0 + $1.weight }
        let under = { (limit: Int) in
            mix.entries.filter { sizes[$0.target.path]! < limit }.reduce(0) { $0 + $1.weight } / total
        }
        #expect(under(32 * 1024) >= 0.9)
        #expect(under(4 * 1024) > 0.5)
    }

    @Test func pickerFollowsTheWeights() {
        let workload = try! Workload(entries: [.init(target: base, weight: 1), .init(target: base.with(path: "/b"), weight: 3)])
        let picker = WorkloadPicker(thresholds: workload.thresholds)
        var random = SeededRandom(seed: 7)
        var counts = [0, 0]
        for _ in 0..<100_000 { counts[picker.pick(random.next())] += 1 }
        #expect(abs(Double(counts[1]) / 100_000 - 0.75) < 0.01)
        #expect(picker.pick(0) == 0 && picker.pick(.max) == 1)
    }

    @Test func urlListsTakePathsWeightsAndComments() throws {
        let list = "# comment\n/a.html 2\n\nhttp://198.18.0.1:8080/b.html\n"
        let workload = try Workload(listText: list, base: base)
        #expect(workload.entries.map(\.target.path) == ["/a.html", "/b.html"])
        #expect(workload.entries.map(\.weight) == [2, 1])
        #expect(throws: LoadgenError.self) { try Workload(listText: "/a\nhttp://198.18.0.9/x\n", base: base) }
        #expect(throws: LoadgenError.self) { try Workload(listText: "/a 0\n", base: base) }
        #expect(throws: LoadgenError.self) { try Workload(listText: "# nothing\n", base: base) }
    }

    @Test func requestsAreBuiltOnce() {
        let close = RequestBuilder().request(for: base)
        #expect(String(decoding: close, as: UTF8.self) == "GET /index.html HTTP/1.1\r\nHost: 198.18.0.1:8080\r\n"
            + "User-Agent: mtcp-loadgen\r\nAccept: */*\r\nConnection: close\r\n\r\n")
        let keepAlive10 = RequestBuilder(http10: true, requestsPerConnection: 5, extraHeaders: ["X-A: 1", "accept: text/html"])
        #expect(String(decoding: keepAlive10.request(for: base), as: UTF8.self) == "GET /index.html HTTP/1.0\r\n"
            + "Host: 198.18.0.1:8080\r\nUser-Agent: mtcp-loadgen\r\nX-A: 1\r\naccept: text/html\r\n"
            + "Connection: keep-alive\r\n\r\n")
        #expect(throws: LoadgenError.self) { try RequestBuilder.validate(header: "X: a\r\nGET / HTTP/1.1") }
        #expect(throws: LoadgenError.self) { try RequestBuilder.validate(header: "Bad Name: a") }
        #expect(throws: LoadgenError.self) { try RequestBuilder.validate(header: "novalue") }
    }

    @Test func sha256MatchesAKnownDigest() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let digest = BodyDigest.sha256(Array("abc".utf8))
        #expect(digest == LoadgenCommand.hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
    }
}

@Suite struct CommandLineTests {
    @Test func epwgetStyleInvocationParses() throws {
        let command = try LoadgenCommand.parse(["http://198.18.0.1/bench/64.html", "10000", "-N", "1", "-c", "100",
                                                "-o", "out.txt"])
        #expect(command.totalFlows == 10000 && command.cores == 1 && command.concurrency == 100 && command.output == "out.txt")
        // epwget takes its configuration file with -f.
        let configured = try LoadgenCommand.parse(["http://198.18.0.1/", "10", "-f", "conf/epwget.conf"])
        #expect(configured.config == "conf/epwget.conf")
        #expect(try LoadgenCommand.parse(["http://198.18.0.1/", "10", "--config", "x.conf"]).config == "x.conf")
        let timed = try LoadgenCommand.parse(["http://198.18.0.1/", "-d", "5", "--rate", "1000", "--warmup", "1",
                                              "--requests-per-connection", "10", "-H", "X-Test: 1", "--http1.0",
                                              "--json", "r.json", "--mix", "cellular"])
        #expect(timed.totalFlows == nil && timed.rate == 1000 && timed.http10 && timed.mix == .cellular)
    }

    @Test func tlsComesFromTheSchemeOrTheFlag() throws {
        let secure = try HTTPRun(command: LoadgenCommand.parse(["https://198.18.0.1/", "10", "--tls-resume"])).plan()
        #expect(secure.tls && secure.tlsResume)
        let flagged = try HTTPRun(command: LoadgenCommand.parse(["http://198.18.0.1:8443/", "10", "--tls"])).plan()
        #expect(flagged.tls && !flagged.tlsResume)
        #expect(!(try HTTPRun(command: LoadgenCommand.parse(["http://198.18.0.1/", "10"])).plan()).tls)
    }

    @Test(arguments: [
        ["http://198.18.0.1/"],  // neither TOTAL_FLOWS nor -d
        ["http://198.18.0.1/", "0"],
        ["http://198.18.0.1/", "10", "-c", "0"],
        ["http://198.18.0.1/", "10", "-N", "0"],
        ["http://198.18.0.1/", "10", "--rate", "-5"],
        ["http://198.18.0.1/", "-d", "0"],
        ["http://198.18.0.1/", "10", "--requests-per-connection", "0"],
        ["http://198.18.0.1/", "10", "--max-error-rate", "2"],
        ["http://198.18.0.1/", "10", "--expect-sha256", "abc"],
        ["http://198.18.0.1/", "10", "-H", "X-Bad"],
        ["http://198.18.0.1/", "10", "--urls", "f", "--mix", "cellular"],
        ["http://198.18.0.1/", "10", "--warmup", "-1"],
        ["http://name.example/", "10"],
        ["echo://198.18.0.2:7000", "10", "--rate", "5"],
        ["echo://198.18.0.2:7000"],
        ["ftp://198.18.0.2/", "10"],
        ["http://198.18.0.1/", "10", "--tls-resume"],  // resumption without TLS
        ["echo://198.18.0.2:7000", "10", "--tls"],
    ])
    func invalidCommandLinesAreRefused(arguments: [String]) {
        #expect(throws: (any Error).self, "\(arguments)") { try LoadgenCommand.parse(arguments) }
    }

    @Test func fewerConnectionsThanCoresAreRefused() throws {
        let plan = try HTTPRun(command: LoadgenCommand.parse(["http://198.18.0.1/", "10", "-c", "2"])).plan()
        #expect(throws: LoadgenError.self) { try plan.check(cores: 3) }
        try plan.check(cores: 2)
    }

    @Test func resultFailsOnErrorsAboveTheThreshold() {
        var counts = LoadCounts()
        counts.attempted = 100
        counts.completed = 98
        counts.errors[.readTimeout] = 2
        let plan = try! HTTPRun(command: LoadgenCommand.parse(["http://198.18.0.1/", "100"])).plan()
        let result = LoadResult(plan: plan, cores: 1, counts: counts, histograms: LatencyHistograms(entries: 1),
                                measuredFrom: .zero, seconds: SecondBins(), failures: [])
        #expect(result.failureReason(maximumErrorRate: 0.01) != nil)
        #expect(result.failureReason(maximumErrorRate: 0.02) == nil)
        var none = LoadCounts()
        none.attempted = 5
        none.errors[.refusedOrReset] = 5
        let refused = LoadResult(plan: plan, cores: 1, counts: none, histograms: LatencyHistograms(entries: 1),
                                 measuredFrom: .zero, seconds: SecondBins(), failures: [])
        #expect(refused.failureReason(maximumErrorRate: 1) == "no request completed")
    }
}
