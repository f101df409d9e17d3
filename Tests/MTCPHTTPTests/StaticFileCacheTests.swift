import Foundation
import Testing
@testable import MTCPHTTP

/// A document root in a temporary directory, removed at the end.
final class TemporaryRoot {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("mtcp-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("www"), withIntermediateDirectories: true)
    }

    var root: String { url.appendingPathComponent("www").path }

    func write(_ relative: String, _ content: String, modified: Int = 784_111_777) throws {
        let file = url.appendingPathComponent("www").appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: file)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(modified))],
                                              ofItemAtPath: file.path)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A request against a cache, with the response rendered as text.
struct Exchange {
    var status: HTTPStatus
    var head: String
    var body: String
    var file: StaticFileStream?
    /// The body lies right after the head in memory (one buffer to write).
    var contiguous: Bool

    /// What goes on the wire from memory: the head, then the body.
    var wire: String { head + body }
}

/// Holds a cache (non-copyable) so that test macros, which copy their operands, can refer to it.
final class CacheBox {
    var cache: StaticFileCache
    init(_ configuration: StaticFileCacheConfiguration, now: Int64 = 0) throws {
        cache = try StaticFileCache(configuration: configuration, now: now)
    }
}

func get(_ box: CacheBox, _ request: String, now: Int64 = 800_000_000) -> Exchange? {
    let bytes = Array(request.utf8)
    guard case .success(let head?) = parse(bytes) else { Issue.record("unparsable request"); return nil }
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: StaticFileCache.minimumScratchBytes, alignment: 1)
    let pathBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 1)
    defer { scratch.deallocate(); pathBuffer.deallocate() }
    return bytes.withUnsafeBytes { buffer -> Exchange? in
        guard case .path(let length, _) = HTTPTargetPath.normalize(head.target.bytes(in: buffer), into: pathBuffer)
        else { Issue.record("bad path"); return nil }
        let path = UnsafeRawBufferPointer(rebasing: pathBuffer[0..<length])
        guard let response = box.cache.response(to: head, in: buffer, path: path, clock: HTTPDateClock(now: now),
                                            scratch: scratch) else { return nil }
        let head = String(decoding: response.head, as: UTF8.self)
        let contiguous = response.head.baseAddress.map { $0 + response.head.count } == response.body.baseAddress
        return Exchange(status: response.status, head: head, body: String(decoding: response.body, as: UTF8.self),
                        file: response.file, contiguous: contiguous)
    }
}

@Suite struct StaticFileCacheTests {
    static let page = "<html>hello, world</html>\n"

    func makeSite() throws -> TemporaryRoot {
        let site = try TemporaryRoot()
        try site.write("index.html", Self.page)
        try site.write("style.css", "body{}")
        try site.write("app.js", "1")
        try site.write("docs/index.html", "docs")
        try site.write("empty/readme", "no index here")
        try site.write("big.bin", String(repeating: "0123456789", count: 100))
        try site.write(".secret", "hidden")
        try site.write("a b.txt", "spaced")
        return site
    }

    @Test func servesCompletePrebuiltResponses() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root, serverName: "test"), now: 784_111_777)
        let response = try #require(get(cache, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", now: 784_111_777))
        #expect(response.status == .ok)
        #expect(response.head.hasPrefix("HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: test\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nContent-Length: 26\r\n"
            + "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nETag: \"1a-2ebc98a1.0\"\r\n"
            + "Accept-Ranges: bytes\r\nConnection: keep-alive\r\n\r\n"))
        #expect(response.head.hasSuffix("Connection: keep-alive\r\n\r\n") && response.body == Self.page)
        #expect(response.contiguous, "one buffer in memory, head then body")
        #expect(response.file == nil)
        let close = try #require(get(cache, "GET /index.html HTTP/1.0\r\n\r\n"))
        #expect(close.wire.contains("Connection: close\r\n\r\n" + Self.page))
        let head = try #require(get(cache, "HEAD /index.html HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(head.head.hasSuffix("Connection: keep-alive\r\n\r\n") && head.body.isEmpty)
        #expect(head.head.contains("Content-Length: 26\r\n"))
        #expect(get(cache, "GET /style.css HTTP/1.1\r\nHost: h\r\n\r\n")?.head.contains("Content-Type: text/css") == true)
        #expect(get(cache, "GET /app.js HTTP/1.1\r\nHost: h\r\n\r\n")?.head.contains("text/javascript") == true)
        #expect(get(cache, "GET /a%20b.txt HTTP/1.1\r\nHost: h\r\n\r\n")?.wire.hasSuffix("spaced") == true)
    }

    @Test func directoriesIndexesAndMisses() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root), now: 0)
        #expect(get(cache, "GET /docs/ HTTP/1.1\r\nHost: h\r\n\r\n")?.wire.hasSuffix("\r\n\r\ndocs") == true)
        let redirect = try #require(get(cache, "GET /docs HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(redirect.status == .movedPermanently)
        #expect(redirect.head.contains("Location: /docs/\r\n"))
        #expect(get(cache, "GET /empty/ HTTP/1.1\r\nHost: h\r\n\r\n") == nil, "no listing")
        #expect(get(cache, "GET /empty HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        #expect(get(cache, "GET /empty/readme HTTP/1.1\r\nHost: h\r\n\r\n") != nil)
        #expect(get(cache, "GET /.secret HTTP/1.1\r\nHost: h\r\n\r\n") == nil, "dot files are not served")
        #expect(get(cache, "GET /missing HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        #expect(get(cache, "GET /index.htm HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
    }

    @Test func largeFilesAndAFullBudgetAreStreamed() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root, maxFileBytes: 100), now: 0)
        let big = try #require(get(cache, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(big.head.hasSuffix("Content-Length: 1000\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            + "ETag: \"3e8-2ebc98a1.0\"\r\nAccept-Ranges: bytes\r\nConnection: keep-alive\r\n\r\n"))
        let file = try #require(big.file)
        #expect(file.offset == 0 && file.count == 1000 && file.size == 1000)
        #expect(String(cString: file.path).hasSuffix("/www/big.bin"))
        let descriptor = file.open()
        #expect(descriptor >= 0)
        close(descriptor)
        #expect(get(cache, "HEAD /big.bin HTTP/1.1\r\nHost: h\r\n\r\n")?.file == nil)

        let tight = try CacheBox(.init(documentRoot: site.root, maxMemoryBytes: 1500), now: 0)
        #expect(tight.cache.memoryBytes <= 1500 && tight.cache.memoryBytes > 0)
        #expect(get(tight, "GET /app.js HTTP/1.1\r\nHost: h\r\n\r\n")?.file == nil, "the smallest file fits")
        #expect(get(tight, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n")?.file != nil)
    }

    /// Memory is filled smallest first, and a file that does not fit does not
    /// end the filling: a variant costs twice a plain file (it is also served
    /// under its own name), so a larger plain file after it may still fit.
    @Test func aFileBeyondTheBudgetLeavesRoomForTheNextOne() throws {
        let site = try TemporaryRoot()
        try site.write("v.txt", String(repeating: "v", count: 100))
        try site.write("v.txt.gz", String(repeating: "g", count: 110))
        try site.write("plain.bin", String(repeating: "p", count: 150))
        // 2 x (100 + 512) for v.txt and 2 x (150 + 512) for plain.bin fit;
        // 4 x (110 + 512) for the variant does not.
        let cache = try CacheBox(.init(documentRoot: site.root, maxMemoryBytes: 2600), now: 0)
        #expect(get(cache, "GET /v.txt HTTP/1.1\r\nHost: h\r\n\r\n")?.file == nil)
        #expect(get(cache, "GET /plain.bin HTTP/1.1\r\nHost: h\r\n\r\n")?.file == nil)
        #expect(get(cache, "GET /v.txt.gz HTTP/1.1\r\nHost: h\r\n\r\n")?.file != nil)
    }

    @Test func conditionalRequests() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root), now: 0)
        let etag = "\"1a-2ebc98a1.0\""
        for condition in ["If-None-Match: \(etag)", "If-None-Match: \"x\", W/\(etag)", "If-None-Match: *",
                          "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
                          "If-Modified-Since: Sunday, 06-Nov-94 08:49:38 GMT"] {
            let response = try #require(get(cache, "GET / HTTP/1.1\r\nHost: h\r\n\(condition)\r\n\r\n"))
            #expect(response.status == .notModified, "\(condition)")
            #expect(response.head.contains("ETag: \(etag)\r\n"))
            #expect(!response.head.contains("Content-Length"))
            #expect(response.body.isEmpty && response.file == nil)
        }
        for condition in ["If-None-Match: \"other\"", "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT",
                          "If-Modified-Since: garbage",
                          // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
                          "If-None-Match: \"other\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"] {
            #expect(get(cache, "GET / HTTP/1.1\r\nHost: h\r\n\(condition)\r\n\r\n")?.status == .ok, "\(condition)")
        }
        // A date in the future is invalid and ignored.
        #expect(get(cache, "GET / HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
                    now: 784_000_000)?.status == .ok)
    }

    @Test func byteRanges() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root, maxFileBytes: 100), now: 0)
        func range(_ path: String, _ value: String, _ extra: String = "") -> Exchange? {
            get(cache, "GET \(path) HTTP/1.1\r\nHost: h\r\nRange: \(value)\r\n\(extra)\r\n")
        }
        let part = try #require(range("/", "bytes=6-10"))
        #expect(part.status == .partialContent)
        #expect(part.body == "hello")
        #expect(part.head.contains("Content-Length: 5\r\nContent-Range: bytes 6-10/26\r\n"))
        #expect(range("/", "bytes=20-")?.body == "html>\n")
        #expect(range("/", "bytes=-3")?.body == "l>\n")
        #expect(range("/", "bytes=-100")?.body == Self.page)
        #expect(range("/", "bytes=20-999")?.head.contains("Content-Range: bytes 20-25/26") == true)
        let unsatisfiable = try #require(range("/", "bytes=26-"))
        #expect(unsatisfiable.status == .rangeNotSatisfiable)
        #expect(unsatisfiable.head.contains("Content-Range: bytes */26\r\n"))
        #expect(range("/", "bytes=-0")?.status == .rangeNotSatisfiable)
        for whole in ["bytes=0-1, 3-4", "bytes=5-2", "items=0-1", "bytes=a-b", "bytes=1-2-3"] {
            #expect(range("/", whole)?.status == .ok, "\(whole)")
        }
        #expect(range("/", "bytes=0-1", "If-Range: \"1a-2ebc98a1.0\"\r\n")?.status == .partialContent)
        #expect(range("/", "bytes=0-1", "If-Range: \"stale\"\r\n")?.status == .ok)
        #expect(range("/", "bytes=0-1", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n")?.status == .partialContent)
        #expect(get(cache, "HEAD / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n")?.status == .ok)
        let streamed = try #require(range("/big.bin", "bytes=10-19"))
        #expect(streamed.status == .partialContent && streamed.body.isEmpty)
        #expect(streamed.file?.offset == 10 && streamed.file?.count == 10)
    }

    @Test func symlinksLeavingTheRootAreRefused() throws {
        let site = try makeSite()
        try Data("outside".utf8).write(to: site.url.appendingPathComponent("secret.txt"))
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: site.root + "/escape.txt", withDestinationPath: "../secret.txt")
        try fm.createSymbolicLink(atPath: site.root + "/absolute.txt", withDestinationPath: site.path + "/secret.txt")
        try fm.createSymbolicLink(atPath: site.root + "/alias.css", withDestinationPath: "style.css")
        try fm.createSymbolicLink(atPath: site.root + "/up", withDestinationPath: "..")
        let cache = try CacheBox(.init(documentRoot: site.root), now: 0)
        #expect(get(cache, "GET /escape.txt HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        #expect(get(cache, "GET /absolute.txt HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        #expect(get(cache, "GET /up/secret.txt HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        #expect(get(cache, "GET /alias.css HTTP/1.1\r\nHost: h\r\n\r\n")?.wire.hasSuffix("body{}") == true)
    }

    @Test func reloadPicksUpChangesAndDatesArePatched() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root), now: 784_111_777)
        var clock = HTTPDateClock(now: 784_111_777)
        clock.update(now: 784_111_778)
        cache.cache.refreshDate(clock)
        #expect(get(cache, "GET /style.css HTTP/1.1\r\nHost: h\r\n\r\n")?.head
            .contains("Date: Sun, 06 Nov 1994 08:49:38 GMT") == true)
        #expect(get(cache, "GET /docs HTTP/1.1\r\nHost: h\r\n\r\n")?.head
            .contains("Date: Sun, 06 Nov 1994 08:49:38 GMT") == true)
        try site.write("style.css", "body{color:red}", modified: 900_000_000)
        try site.write("new.txt", "new")
        #expect(get(cache, "GET /new.txt HTTP/1.1\r\nHost: h\r\n\r\n") == nil)
        try cache.cache.reload(now: 900_000_000)
        #expect(cache.cache.generation == 1)
        let changed = try #require(get(cache, "GET /style.css HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(changed.wire.hasSuffix("body{color:red}"))
        #expect(changed.head.contains("Last-Modified: Thu, 09 Jul 1998 16:00:00 GMT"))
        #expect(get(cache, "GET /new.txt HTTP/1.1\r\nHost: h\r\n\r\n") != nil)
        #expect(throws: StaticFileCacheError.self) {
            try CacheBox(.init(documentRoot: site.path + "/nonexistent"))
        }
    }
}
