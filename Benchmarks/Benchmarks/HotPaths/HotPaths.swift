import Benchmark
import MTCP
import MTCPHTTP

/// The per-packet and per-request hot paths, measured alone, so a regression
/// shows here before the system benchmark does. Each benchmark also counts
/// mallocs: the hot paths must not allocate.
let benchmarks: @Sendable () -> Void = {
    // A thousand operations per sample; set-up and tear-down stay outside the
    // measurement (`startMeasurement`/`stopMeasurement`).
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                           scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 10_000)

    // A full segment's payload, and a short one (a request, a small response's
    // head): the two loops of `InternetChecksum.add` meet in between.
    for length in [128, 300, 600, 1460] {
        Benchmark("Internet checksum of \(length) bytes") { benchmark in
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
            defer { bytes.deallocate() }
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 31) }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var checksum = InternetChecksum()
                checksum.add(UnsafeRawBufferPointer(bytes))
                blackHole(checksum.checksum)
            }
        }
    }

    Benchmark("Flow table lookup, 10 000 flows") { benchmark in
        var table = FlowTable<IPv4FlowKey>(capacity: 10_000, key: SipHash(key0: 42, key1: 7))
        for port in 0..<10_000 {
            _ = table.insert(IPv4FlowKey(tuple(UInt16(port))), Int32(port))
        }
        var port: UInt16 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(table.lookup(IPv4FlowKey(tuple(port))))
            port = port == 9_999 ? 0 : port &+ 1
        }
        benchmark.stopMeasurement()
    }

    // What every outgoing packet asks: the next hop's MAC, from the table all cores share.
    Benchmark("Neighbour table resolve, 100 neighbours") { benchmark in
        let storage = ARPTableStorage(capacity: 1024)
        let table = storage.table
        func neighbour(_ host: Int) -> IPv4Address { IPv4Address(198, 18, 0, UInt8(2 + host)) }
        for host in 0..<100 { table.learn(neighbour(host), MACAddress(UInt64(host + 1)), now: .zero) }
        let now = Instant.zero + .seconds(1)
        var host = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(table.resolve(neighbour(host), now: now).mac)
            host = host == 99 ? 0 : host + 1
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Timer wheel schedule, cancel, expire") { benchmark in
        var wheel = TimerWheel(nodeCount: 4096, slotCount: 4096, granularity: .milliseconds(1), start: .zero)
        var now = Instant.zero
        var node = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            wheel.schedule(node, at: now + .milliseconds(200))
            if node & 1 == 0 { _ = wheel.cancel(node) }
            now = now + .microseconds(100)
            while let expired = wheel.nextExpired(now: now) { blackHole(expired) }
            node = (node + 1) & 4095
        }
        benchmark.stopMeasurement()
    }

    Benchmark("HTTP request parse (wrk-like GET)") { benchmark in
        let request = Array("GET /bench/64.html HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n".utf8)
        benchmark.startMeasurement()
        request.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                var parser = HTTPRequestParser()
                blackHole(parsedRequest(&parser, bytes))
            }
        }
    }

    Benchmark("HTTP response parse (static file response)") { benchmark in
        let response = Array(("HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 02:08:15 GMT\r\nServer: mtcp-httpd\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 64\r\n"
            + "Last-Modified: Wed, 25 Nov 2026 22:12:12 GMT\r\nETag: \"40-6b075d3c.20c56fbd\"\r\n"
            + "Accept-Ranges: bytes\r\nConnection: keep-alive\r\n\r\n" + String(repeating: "x", count: 64)).utf8)
        benchmark.startMeasurement()
        response.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                var parser = HTTPResponseParser()
                blackHole(parsedResponse(&parser, bytes))
            }
        }
    }

    // The same size as the request above (79 bytes, three fields), so the two
    // parsers compare per byte; the response above is four times larger.
    Benchmark("HTTP response parse (79 bytes, as the request)") { benchmark in
        let response = Array("HTTP/1.1 200 OK\r\nServer: mtcp\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc".utf8)
        precondition(response.count == 79)
        benchmark.startMeasurement()
        response.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                var parser = HTTPResponseParser()
                blackHole(parsedResponse(&parser, bytes))
            }
        }
    }

    Benchmark("Static response lookup (cache hit)") { benchmark in
        var cache = try! StaticFileCache(configuration: StaticFileCacheConfiguration(documentRoot: "../www"), now: 0)
        let clock = HTTPDateClock(now: 0)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: StaticFileCache.minimumScratchBytes,
                                                             alignment: 8)
        defer { scratch.deallocate() }
        let request = Array("GET /bench/64.html HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let path = Array("/bench/64.html".utf8)
        request.withUnsafeBytes { requestBytes in
            var parser = HTTPRequestParser()
            let head = parsedRequest(&parser, requestBytes)
            path.withUnsafeBytes { pathBytes in
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(cache.response(to: head, in: requestBytes, path: pathBytes, clock: clock,
                                             scratch: scratch)?.head.count)
                }
                benchmark.stopMeasurement()
            }
        }
    }

    spoofedSegmentBenchmarks()
    forwardingBenchmarks()
}

/// A parse that fails or stops short is an error, not a timed no-op: the
/// benchmark traps rather than report how fast it did nothing.
@inline(__always)
private func parsedRequest(_ parser: inout HTTPRequestParser, _ bytes: UnsafeRawBufferPointer) -> HTTPRequestHead {
    do {
        guard try parser.parse(bytes) else { fatalError("the request parse needs more bytes") }
        return parser.head
    } catch {
        fatalError("the request parse failed: \(error)")
    }
}

/// The whole response read, head and body.
@inline(__always)
private func parsedResponse(_ parser: inout HTTPResponseParser, _ bytes: UnsafeRawBufferPointer) -> Int {
    do {
        let consumed = try parser.parse(bytes) { blackHole($0.count) }
        precondition(parser.isComplete && consumed == bytes.count, "the response parse stopped short")
        return consumed
    } catch {
        fatalError("the response parse failed: \(error)")
    }
}

/// A connection's 4-tuple, distinct per `port`.
func tuple(_ port: UInt16) -> FourTuple {
    FourTuple(localAddress: IPv4Address(198, 18, 0, 1), localPort: 80, remoteAddress: IPv4Address(198, 18, 0, 2),
              remotePort: 1024 &+ port)
}
