import Testing
@testable import MTCPHTTP

/// Precompressed variants (nginx's gzip_static, and Brotli): `file.gz` / `file.br`
/// beside `file`, chosen by Accept-Encoding with its qvalues, with `Vary`.
@Suite struct PrecompressedVariantTests {
    @Test(arguments: [
        // (Accept-Encoding, has gzip, has br, expected)
        ("gzip", true, true, HTTPContentCoding.gzip),
        ("gzip, deflate, br", true, true, .brotli),
        ("br;q=0.5, gzip", true, true, .gzip),
        ("br;q=0, gzip;q=0.1", true, true, .gzip),
        ("gzip;q=0", true, false, .identity),
        ("GZIP ; Q = 0.8", true, false, .gzip),
        ("x-gzip", true, false, .gzip),
        ("*", true, true, .brotli),
        ("*;q=0.3, br;q=0", true, true, .gzip),
        ("deflate", true, true, .identity),
        ("identity", true, true, .identity),
        ("identity;q=1, gzip;q=0.5", true, false, .identity),
        ("identity;q=0.1, gzip;q=0.5", true, false, .gzip),
        ("br", true, false, .identity),
        ("gzip;q=1.001", true, false, .identity),
        ("gzip;q=2", true, false, .identity),
        ("gzip;q=0.", true, false, .identity),
        ("gzip;q=0.001", true, false, .gzip),
        ("gzip;level=1;q=0.9", true, false, .gzip),
        ("gzip;q", true, false, .identity),
        ("gzip;quality=0", true, false, .gzip),
        ("", true, true, .identity),
    ])
    func negotiation(value: String, gzip: Bool, brotli: Bool, expected: HTTPContentCoding) {
        let chosen = Array(value.utf8).withUnsafeBytes {
            HTTPContentCoding.negotiate($0, gzip: gzip, brotli: brotli)
        }
        #expect(chosen == expected, "\(value)")
    }

    func makeSite() throws -> TemporaryRoot {
        let site = try TemporaryRoot()
        try site.write("app.js", "plain javascript")
        try site.write("app.js.gz", "GZ-BYTES")
        try site.write("app.js.br", "BR")
        try site.write("style.css", "body{}")
        try site.write("style.css.gz", "CSS-GZ")
        try site.write("plain.txt", "no variants")
        try site.write("docs/index.html", "<html>docs</html>")
        try site.write("docs/index.html.gz", "HTML-GZ")
        try site.write("lonely.gz", "a .gz without its file")
        return site
    }

    static func get(_ cache: CacheBox, _ path: String, _ fields: String = "") -> Exchange? {
        MTCPHTTPTests.get(cache, "GET \(path) HTTP/1.1\r\nHost: h\r\n\(fields)\r\n")
    }

    @Test func theVariantTheClientPrefersIsServedWithItsCodingAndVary() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root))
        let brotli = try #require(Self.get(cache, "/app.js", "Accept-Encoding: gzip, deflate, br\r\n"))
        #expect(brotli.status == .ok)
        #expect(brotli.wire.hasSuffix("\r\n\r\nBR"))
        #expect(brotli.head.contains("Content-Type: text/javascript"))
        #expect(brotli.head.contains("Content-Encoding: br\r\nContent-Length: 2\r\n"))
        #expect(brotli.head.contains("Vary: Accept-Encoding\r\n"))
        let gzip = try #require(Self.get(cache, "/app.js", "Accept-Encoding: gzip\r\n"))
        #expect(gzip.wire.hasSuffix("\r\n\r\nGZ-BYTES"))
        #expect(gzip.head.contains("Content-Encoding: gzip\r\n"))
        let identity = try #require(Self.get(cache, "/app.js"))
        #expect(identity.wire.hasSuffix("\r\n\r\nplain javascript"))
        #expect(!identity.head.contains("Content-Encoding"))
        #expect(identity.head.contains("Vary: Accept-Encoding\r\n"), "the identity response varies too")
        let etags = [brotli, gzip, identity].map { $0.head.split(separator: "\r\n").first { $0.hasPrefix("ETag:") } }
        #expect(Set(etags).count == 3, "each variant has its own validator: \(etags)")
        let css = try #require(Self.get(cache, "/style.css", "Accept-Encoding: br, gzip\r\n"))
        #expect(css.wire.hasSuffix("\r\n\r\nCSS-GZ") && css.head.contains("Content-Type: text/css"))
    }

    /// `gzip -k` keeps the file's time: a variant of the same size and time still
    /// has a validator of its own, so the identity ETag never validates the gzip body.
    @Test func aVariantOfTheSameSizeAndTimeHasItsOwnValidator() throws {
        let site = try TemporaryRoot()
        try site.write("same.txt", "abcd")
        try site.write("same.txt.gz", "wxyz")
        let cache = try CacheBox(.init(documentRoot: site.root))
        let identity = try #require(Self.get(cache, "/same.txt"))
        let etag = try #require(identity.head.split(separator: "\r\n").first { $0.hasPrefix("ETag: ") }?.dropFirst(6))
        let gzip = try #require(Self.get(cache, "/same.txt", "Accept-Encoding: gzip\r\nIf-None-Match: \(etag)\r\n"))
        #expect(gzip.status == .ok && gzip.wire.hasSuffix("\r\n\r\nwxyz"))
    }

    @Test func filesWithoutVariantsAndTheVariantsThemselvesAreServedAsTheyAre() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root))
        let plain = try #require(Self.get(cache, "/plain.txt", "Accept-Encoding: gzip\r\n"))
        #expect(!plain.head.contains("Vary") && !plain.head.contains("Content-Encoding"))
        let direct = try #require(Self.get(cache, "/app.js.gz", "Accept-Encoding: gzip\r\n"))
        #expect(direct.wire.hasSuffix("\r\n\r\nGZ-BYTES") && !direct.head.contains("Content-Encoding"))
        let lonely = try #require(Self.get(cache, "/lonely.gz", "Accept-Encoding: gzip\r\n"))
        #expect(lonely.wire.hasSuffix("a .gz without its file"))
        #expect(Self.get(cache, "/lonely", "Accept-Encoding: gzip\r\n") == nil)
    }

    @Test func directoryIndexesRangesAndConditionalsUseTheVariant() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root))
        let index = try #require(Self.get(cache, "/docs/", "Accept-Encoding: gzip\r\n"))
        #expect(index.wire.hasSuffix("\r\n\r\nHTML-GZ") && index.head.contains("Content-Type: text/html"))
        let part = try #require(Self.get(cache, "/app.js", "Accept-Encoding: gzip\r\nRange: bytes=0-1\r\n"))
        #expect(part.status == .partialContent)
        #expect(part.body == "GZ")
        #expect(part.head.contains("Content-Encoding: gzip\r\n") && part.head.contains("Content-Range: bytes 0-1/8\r\n"))
        #expect(part.head.contains("Vary: Accept-Encoding\r\n"))
        let gzip = try #require(Self.get(cache, "/app.js", "Accept-Encoding: gzip\r\n"))
        let etag = try #require(gzip.head.split(separator: "\r\n").first { $0.hasPrefix("ETag: ") }?.dropFirst(6))
        let notModified = try #require(Self.get(cache, "/app.js", "Accept-Encoding: gzip\r\nIf-None-Match: \(etag)\r\n"))
        #expect(notModified.status == .notModified)
        #expect(notModified.head.contains("Vary: Accept-Encoding\r\n"))
        let other = try #require(Self.get(cache, "/app.js", "If-None-Match: \(etag)\r\n"))
        #expect(other.status == .ok, "the gzip variant's ETag does not validate the identity response")
    }

    /// Streamed files (beyond max_file_bytes) have variants too: the variant's own file is streamed.
    @Test func aStreamedVariantStreamsItsOwnFile() throws {
        let site = try makeSite()
        let cache = try CacheBox(.init(documentRoot: site.root, maxFileBytes: 4))
        let gzip = try #require(Self.get(cache, "/app.js", "Accept-Encoding: gzip\r\n"))
        let file = try #require(gzip.file)
        #expect(String(cString: file.path).hasSuffix("/app.js.gz") && file.count == 8)
        #expect(gzip.head.contains("Content-Encoding: gzip\r\n"))
    }
}
