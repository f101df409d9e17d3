import Testing
@testable import MTCPHTTP

/// `headers` of httpd.json: Cache-Control, Expires and extra fields by path
/// prefix, pre-built into the cached responses and kept in 304s.
@Suite struct StaticHeaderRuleTests {
    static let rules = [
        StaticHeaderRule(prefix: "/", fields: [.init(name: "X-Frame-Options", value: "DENY")]),
        StaticHeaderRule(prefix: "/assets", cacheControl: "public, max-age=31536000, immutable",
                         fields: [.init(name: "X-Test", value: "a b")]),
        StaticHeaderRule(prefix: "/assets/fonts/", expiresSeconds: 3600),
    ]

    func makeCache(now: Int64) throws -> (TemporaryRoot, CacheBox) {
        let site = try TemporaryRoot()
        try site.write("index.html", "home")
        try site.write("assets/app.css", "body{}")
        try site.write("assets/fonts/a.woff", "font")
        try site.write("assets-old/x.txt", "old")
        return (site, try CacheBox(.init(documentRoot: site.root, headerRules: Self.rules), now: now))
    }

    static func get(_ cache: CacheBox, _ path: String, _ fields: String = "", now: Int64) -> Exchange? {
        MTCPHTTPTests.get(cache, "GET \(path) HTTP/1.1\r\nHost: h\r\n\(fields)\r\n", now: now)
    }

    @Test func theLongestMatchingPrefixGivesItsFields() throws {
        let (_, cache) = try makeCache(now: 784_111_777)
        let css = try #require(Self.get(cache, "/assets/app.css", now: 784_111_777))
        #expect(css.head.contains("Cache-Control: public, max-age=31536000, immutable\r\nX-Test: a b\r\nConnection: "))
        #expect(!css.head.contains("X-Frame-Options") && !css.head.contains("Expires"))
        let font = try #require(Self.get(cache, "/assets/fonts/a.woff", now: 784_111_777))
        #expect(font.head.contains("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nExpires: Sun, 06 Nov 1994 09:49:37 GMT\r\n"))
        #expect(font.head.contains("Cache-Control: max-age=3600\r\n"))
        #expect(!font.head.contains("X-Test"))
        let old = try #require(Self.get(cache, "/assets-old/x.txt", now: 784_111_777))
        #expect(old.head.contains("X-Frame-Options: DENY\r\n"), "a prefix matches whole segments")
        #expect(!old.head.contains("Cache-Control"))
        #expect(try #require(Self.get(cache, "/", now: 784_111_777)).head.contains("X-Frame-Options: DENY\r\n"))
    }

    @Test func expiresMovesWithTheClockAndNotModifiedKeepsTheFields() throws {
        let (_, cache) = try makeCache(now: 784_111_777)
        cache.cache.refreshDate(HTTPDateClock(now: 784_111_778))
        let font = try #require(Self.get(cache, "/assets/fonts/a.woff", now: 784_111_778))
        #expect(font.head.contains("Date: Sun, 06 Nov 1994 08:49:38 GMT\r\nExpires: Sun, 06 Nov 1994 09:49:38 GMT\r\n"))
        let etag = try #require(font.head.split(separator: "\r\n").first { $0.hasPrefix("ETag: ") }?.dropFirst(6))
        let notModified = try #require(Self.get(cache, "/assets/fonts/a.woff", "If-None-Match: \(etag)\r\n",
                                                now: 784_111_800))
        #expect(notModified.status == .notModified)
        #expect(notModified.head.contains("Date: Sun, 06 Nov 1994 08:50:00 GMT\r\nExpires: Sun, 06 Nov 1994 09:50:00 GMT\r\n"))
        #expect(notModified.head.contains("Cache-Control: max-age=3600\r\n"))
        let part = try #require(Self.get(cache, "/assets/app.css", "Range: bytes=0-1\r\n", now: 784_111_800))
        #expect(part.status == .partialContent && part.head.contains("X-Test: a b\r\n"))
    }

    @Test func theConfigurationDecodesAndRefusesWhatCannotBeSent() throws {
        let configuration = try decodeConfiguration("""
            {"headers": [{"prefix": "/static/", "cache_control": "no-cache", "expires_s": 60,
                          "add": {"X-B": "2", "X-A": "1"}}]}
            """)
        #expect(configuration.headerRules == [StaticHeaderRule(prefix: "/static/", cacheControl: "no-cache",
                                                               expiresSeconds: 60,
                                                               fields: [.init(name: "X-A", value: "1"),
                                                                        .init(name: "X-B", value: "2")])])
        #expect(configuration.staticFileCache.headerRules == configuration.headerRules)
        #expect(configurationError("{\n\"headers\": [{\"prefix\": \"/\",\n \"add\": {\"Content-Length\": \"1\"}}]}")
            == "conf/test.json:3: headers[0].add.Content-Length: Content-Length is set by the server "
            + "(use cache_control / expires_s for caching)")
        #expect(configurationError(#"{"headers": [{"prefix": "static"}]}"#)
            == #"conf/test.json:1: headers[0].prefix: must start with "/""#)
        #expect(configurationError(#"{"headers": [{"prefix": "/", "expires_s": -1}]}"#)?
            .hasSuffix("headers[0].expires_s: must be 0...315360000 (ten years)") == true)
        #expect(configurationError(#"{"headers": [{"prefix": "/", "add": {"Bad Name": "x"}}]}"#)?
            .contains("is not a field name") == true)
        #expect(configurationError(#"{"headers": [{"prefix": "/", "cache_control": "a\r\nX-Injected: 1"}]}"#)?
            .contains("headers[0].cache_control: ") == true)
        #expect(configurationError(#"{"headers": [{"prefix": "/"}, {"prefix": "/"}]}"#)?
            .contains("duplicate prefix") == true)
        #expect(configurationError(#"{"headers": [{"prefix": "/", "max_age": 1}]}"#)?.contains("unknown key") == true)
        let tooLong = String(repeating: "a", count: StaticHeaderRule.maxRenderedBytes)
        #expect(configurationError(#"{"headers": [{"prefix": "/", "add": {"Content-Security-Policy": "\#(tooLong)"}}]}"#)?
            .contains("headers[0]: its fields take") == true)
    }

    /// The largest rule a configuration accepts still fits the 304 and 206 heads
    /// built per request (a rule too long for them trapped on a Range request).
    @Test func theLargestAcceptedRuleFitsEveryHeadBuiltPerRequest() throws {
        let fieldLine = "Content-Security-Policy: \r\n".utf8.count
        let value = String(repeating: "p", count: StaticHeaderRule.maxRenderedBytes - fieldLine)
        let rule = StaticHeaderRule(prefix: "/", fields: [.init(name: "Content-Security-Policy", value: value)])
        #expect(rule.renderedFields.count == StaticHeaderRule.maxRenderedBytes)
        let site = try TemporaryRoot()
        try site.write("a-rather-long-file-name-for-the-longest-head.woff2", "font")
        try site.write("a-rather-long-file-name-for-the-longest-head.woff2.gz", "gzipped font")
        let cache = try CacheBox(.init(documentRoot: site.root, serverName: String(repeating: "s", count: 64),
                                       headerRules: [rule]), now: 784_111_777)
        let path = "/a-rather-long-file-name-for-the-longest-head.woff2"
        let gzip = "Accept-Encoding: gzip\r\n"  // the variant's head adds Content-Encoding and Vary
        let full = try #require(Self.get(cache, path, gzip, now: 784_111_777))
        #expect(full.head.contains("Content-Encoding: gzip\r\n"))
        let etag = try #require(full.head.split(separator: "\r\n").first { $0.hasPrefix("ETag: ") }?.dropFirst(6))
        let part = try #require(Self.get(cache, path, gzip + "Range: bytes=1-2\r\n", now: 784_111_777))
        #expect(part.status == .partialContent && part.head.contains(value))
        let notModified = try #require(Self.get(cache, path, gzip + "If-None-Match: \(etag)\r\n", now: 784_111_777))
        #expect(notModified.status == .notModified && notModified.head.contains(value))
    }
}
