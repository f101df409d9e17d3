import Histogram
import MTCP
import Testing

@testable import mtcp_loadgen

/// The figures of `HTTPLoad` against a scripted server on the virtual link:
/// under overload, stalls and silence they must never look better than what
/// happened (issue 29).
@Suite struct LoadgenHonestyTests {
    /// 1000 requests/s offered for 0.5 s to one connection that takes 10 ms a
    /// response: about 50 can be sent. The other ~450 were scheduled and never
    /// sent; they count as unfinished, and the tail shows their wait.
    @Test func openLoopShortfallIsCountedAndInTheTail() {
        let script = ScriptedHTTPServer { _ in .respond(ScriptedHTTPServer.ok, after: .milliseconds(10)) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(duration: 0.5, rate: 1000,
                                                                       requestsPerConnection: 1_000_000),
                                         script: script)
        let (counts, histograms) = network.run(for: .seconds(3))
        #expect(counts.scheduled == 500)
        #expect(counts.attempted + counts.shortfall == counts.scheduled)
        #expect(counts.completed + counts.errors.total + counts.unfinished == counts.scheduled)
        #expect((40...60).contains(counts.completed), "\(counts)")
        #expect(counts.shortfall >= 430, "\(counts)")
        // Every scheduled request is in the distribution; the last never-sent ones waited ~0.5 s.
        #expect(histograms.latency.totalCount == UInt64(counts.scheduled))
        #expect(Distribution(histograms.latency).percentiles[2].value >= 400_000)
        #expect(LoadSummary(result: result(counts, histograms), url: "u").text
            .contains("NOT achieved"))
    }

    /// Closed loop, 10 requests; the server never answers the fourth. It times
    /// out after 0.2 s and is in the distribution at its timeout.
    @Test func timeoutsAreInTheTailAtTheirTimeout() {
        let script = ScriptedHTTPServer { $0 == 3 ? .never : .respond(ScriptedHTTPServer.ok, close: true) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(total: 10, readTimeout: 0.2), script: script)
        let (counts, histograms) = network.run(for: .seconds(3))
        #expect(counts.completed == 9 && counts.errors[.readTimeout] == 1 && counts.unfinished == 0, "\(counts)")
        #expect(histograms.latency.totalCount == 10)
        let maximum = Distribution(histograms.latency).max
        #expect(maximum >= 200_000 && maximum < 205_000, "\(maximum)")
    }

    /// The server answers the first two requests and then nothing; the run is
    /// stopped after 1 s with one request hanging (timeout 10 s). It is
    /// unfinished, and in the distribution at the run's end.
    @Test func unfinishedRequestsAreInTheTailAtTheRunsEnd() {
        let script = ScriptedHTTPServer { $0 < 2 ? .respond(ScriptedHTTPServer.ok, close: true) : .never }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(total: 5, readTimeout: 10), script: script)
        let (counts, histograms) = network.run(for: .seconds(1))
        #expect(counts.completed == 2 && counts.inFlightAtEnd == 1 && counts.unfinished == 1, "\(counts)")
        #expect(histograms.latency.totalCount == 3)
        #expect(Distribution(histograms.latency).max >= 900_000)
    }

    /// A server that answers before reading the request: the response is
    /// complete while the request (a large one, through a small send buffer)
    /// is still being written. It has no time to first byte; before the fix
    /// it counted from `Instant.zero` (here 1000 s before), clamped to 100 s.
    @Test func timeToFirstByteNeverCountsFromAnUnsentRequest() {
        let big = "X-Pad: " + String(repeating: "a", count: 60_000)
        let script = ScriptedHTTPServer(greeting: ScriptedHTTPServer.ok) { _ in .never }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(total: 3, readTimeout: 0.1, headers: [big]), script: script,
                                         clientSendBuffer: 4096)
        let (counts, histograms) = network.run(for: .seconds(2))
        #expect(counts.completed == 3, "\(counts)")
        #expect(histograms.firstByte.totalCount == 0 || histograms.firstByte.max <= histograms.latency.max)
    }

    /// Open loop on keep-alive connections; after each response the server sends
    /// more bytes on the idle connection (its body was longer than it said).
    /// Each such response counts as malformed, not completed.
    @Test func bytesOnAnIdleConnectionFailTheResponseBeforeThem() {
        let script = ScriptedHTTPServer { _ in .pieces([(.zero, ScriptedHTTPServer.ok), (.milliseconds(2), Array("xx".utf8))]) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(duration: 0.1, rate: 100, concurrency: 4,
                                                                       requestsPerConnection: 1000),
                                         script: script)
        let (counts, _) = network.run(for: .seconds(1))
        #expect(counts.attempted == 10 && counts.shortfall == 0, "\(counts)")
        #expect(counts.completed == 0 && counts.errors[.malformedResponse] == 10, "\(counts)")
        #expect(counts.completed + counts.errors.total + counts.unfinished == counts.scheduled)
    }

    /// A connection per request; each response is followed, 2 ms later (a
    /// later read), by more bytes: each response counts as malformed. Before,
    /// the loadgen closed right after the response and never saw them.
    @Test func bytesAfterTheLastResponseOfAConnectionFailIt() {
        let script = ScriptedHTTPServer { _ in .pieces([(.zero, ScriptedHTTPServer.ok), (.milliseconds(2), Array("xx".utf8))]) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(total: 5, concurrency: 2), script: script)
        let (counts, _) = network.run(for: .seconds(2))
        #expect(counts.completed == 0 && counts.errors[.malformedResponse] == 5, "\(counts)")
    }

    /// A server that does not close after `Connection: close`: the loadgen
    /// waits a second for its FIN, then closes; no request fails, and waiting
    /// connections do not hold back new ones.
    @Test func aServerThatDoesNotCloseCostsNoErrors() {
        let script = ScriptedHTTPServer { _ in .respond(ScriptedHTTPServer.ok) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(total: 5), script: script)
        let (counts, _) = network.run(for: .seconds(3))
        #expect(counts.completed == 5 && counts.errors.total == 0 && counts.finished, "\(counts)")
        #expect(counts.lastMeasured < LoadgenTestNetwork.startTime + .milliseconds(100))
    }

    /// Keep-alive closed loop against a server that closes each connection
    /// right after a response that does not say so: the next request, written
    /// into the closing connection, is the client's race, retried on a new
    /// connection, and no request fails.
    @Test func aRequestRacingTheServersCloseIsRetried() {
        let script = ScriptedHTTPServer { _ in .respond(ScriptedHTTPServer.ok, close: true) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(total: 10, requestsPerConnection: 100),
                                         script: script)
        let (counts, histograms) = network.run(for: .seconds(2))
        #expect(counts.attempted == 10 && counts.completed == 10 && counts.errors.total == 0, "\(counts)")
        #expect(counts.connectionsOpened >= 10)
        #expect(histograms.latency.totalCount == 10)
    }

    /// No socket left on this side: the closed loop records a `local` error and
    /// waits 10 ms before trying again, not one error per iteration (10 000 in
    /// this second of 100 µs iterations).
    @Test func runningOutOfSocketsBacksOff() {
        let script = ScriptedHTTPServer { _ in .respond(ScriptedHTTPServer.ok, close: true) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(duration: 1), script: script)
        while (try? network.client.socket()) != nil {}
        let (counts, _) = network.run(for: .seconds(2))
        #expect(counts.errors[.local] > 0 && counts.errors[.local] <= 101, "\(counts)")
        #expect(counts.attempted == counts.errors[.local])
    }

    /// A request started in the warm-up and still unanswered at the end is
    /// counted in the warm-up (it was in no counter).
    @Test func warmupRequestsInFlightAtTheEndAreCounted() {
        let script = ScriptedHTTPServer { _ in .never }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(duration: 0.5, warmup: 0.5, readTimeout: 10),
                                         script: script)
        let (counts, histograms) = network.run(for: .milliseconds(1500))
        #expect(counts.warmup == 1 && counts.scheduled == 0, "\(counts)")
        #expect(histograms.latency.totalCount == 0)
    }

    /// The series covers the measured time exactly: the warm-up is out, each
    /// interval is a second of the clock (the first and last cut to the
    /// measurement and marked partial), and it adds up to the totals.
    @Test func perSecondSeriesCoversTheMeasuredTimeExactly() {
        let script = ScriptedHTTPServer { _ in .respond(ScriptedHTTPServer.ok, after: .milliseconds(1)) }
        var network = LoadgenTestNetwork(plan: LoadgenTestNetwork.plan(duration: 2, warmup: 0.3,
                                                                       requestsPerConnection: 1_000_000),
                                         script: script)
        let (counts, histograms) = network.run(for: .seconds(5))
        let result = LoadResult(plan: LoadgenTestNetwork.plan(duration: 2, warmup: 0.3), cores: 1, counts: counts,
                                histograms: histograms, measuredFrom: network.board.times.measuring,
                                seconds: network.board.seconds, failures: [])
        let series = result.series
        #expect(series.map(\.partial) == [true, false, true])
        #expect(series.map(\.second) == [1, 2, 3])
        #expect(abs(series[0].seconds - 0.7) < 1e-9 && series[1].seconds == 1 && abs(series[1].startSeconds - 0.7) < 1e-9)
        #expect(abs(series[2].seconds - 0.3) < 0.01)
        #expect(counts.warmup > 0 && counts.completed > 1000)
        #expect(series.reduce(0) { $0 + $1.completed } == counts.completed)
        #expect(series.reduce(0) { $0 + $1.bytesRead } == counts.bytesRead)
        // About one response per 1.2 ms (1 ms of server delay, and the round trips of 100 µs steps).
        let rate = Double(series[1].completed)
        #expect(abs(Double(series[0].completed) / 0.7 - rate) < rate * 0.05)
    }

    private func result(_ counts: LoadCounts, _ histograms: LatencyHistograms) -> LoadResult {
        LoadResult(plan: LoadgenTestNetwork.plan(duration: 0.5, rate: 1000), cores: 1, counts: counts,
                   histograms: histograms, measuredFrom: LoadgenTestNetwork.startTime, seconds: SecondBins(),
                   failures: [])
    }
}

@Suite struct LatencyResolutionTests {
    /// 5.4 µs round trips: whole microseconds would read 5 µs (mean and every percentile).
    @Test func latenciesKeepNanoseconds() {
        var histograms = LatencyHistograms(entries: 1)
        for _ in 0..<100 { histograms.latency.record(TimeSpan(nanoseconds: 5_400)) }
        let figures = Distribution(histograms.latency)
        #expect(abs(figures.mean - 5.4) < 0.01, "\(figures.mean)")
        #expect(abs(figures.percentiles[0].value - 5.4) < 0.01)
    }
}
