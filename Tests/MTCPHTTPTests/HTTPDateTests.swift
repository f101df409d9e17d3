import Testing
@testable import MTCPHTTP

func formatDate(_ time: Int64) -> String {
    var bytes = [UInt8](repeating: 0, count: HTTPDate.length)
    bytes.withUnsafeMutableBytes { HTTPDate.format(time, into: $0.baseAddress!) }
    return String(decoding: bytes, as: UTF8.self)
}

func parseDate(_ text: String, now: Int64 = 1_700_000_000) -> Int64? {
    withBytes(text) { HTTPDate.parse($0, now: now) }
}

@Suite struct HTTPDateTests {
    @Test(arguments: [
        (Int64(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
        (4_133_980_799, "Fri, 31 Dec 2100 23:59:59 GMT"),
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
    ])
    func formatsAndParsesIMFFixdate(_ time: Int64, _ text: String) {
        #expect(formatDate(time) == text)
        #expect(parseDate(text) == time)
    }

    @Test func roundTripsEveryDayForCenturies() {
        var time: Int64 = 0
        while time < 8_000_000_000 {
            #expect(parseDate(formatDate(time)) == time)
            time += 86_400 * 13 + 3_607
        }
    }

    @Test func parsesTheObsoleteFormats() {
        #expect(parseDate("Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
        #expect(parseDate("Sun Nov  6 08:49:37 1994") == 784_111_777)
        #expect(parseDate("Sun Nov 16 08:49:37 1994") == 784_975_777)
        // Two-digit years more than 50 years ahead are in the past century (now is 2023).
        #expect(parseDate("Tuesday, 01-Jan-80 00:00:00 GMT") == 315_532_800)
        #expect(parseDate("Monday, 01-Jan-80 00:00:00 GMT") == 315_532_800)  // weekdays are not cross-checked
        #expect(parseDate("Wednesday, 01-Jan-70 00:00:00 GMT") == 3_155_760_000)  // 47 years ahead: 2070
        #expect(parseDate("Friday, 01-Jan-44 00:00:00 GMT") == 2_335_219_200)
    }

    @Test(arguments: [
        "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT ", "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 1900 00:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun 06 Nov 1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994", "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun, 06 Nov 1969 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT", "1994-11-06T08:49:37Z",
    ])
    func refusesEverythingElse(_ text: String) {
        #expect(parseDate(text) == nil)
    }

    @Test func clockReformatsOnlyWhenTheSecondChanges() {
        var clock = HTTPDateClock(now: 784_111_777)
        #expect(clock.withBytes { String(decoding: $0, as: UTF8.self) } == "Sun, 06 Nov 1994 08:49:37 GMT")
        let unchanged = clock.update(now: 784_111_777)
        #expect(!unchanged)
        let changed = clock.update(now: 784_111_778)
        #expect(changed)
        #expect(clock.second == 784_111_778)
        #expect(clock.withBytes { String(decoding: $0, as: UTF8.self) } == "Sun, 06 Nov 1994 08:49:38 GMT")
    }

    @Test func mimeTypesByExtension() {
        func type(_ path: String) -> String { withBytes(path) { MIMEType.forPath($0).description } }
        #expect(type("/index.html") == "text/html; charset=utf-8")
        #expect(type("/a/STYLE.CSS") == "text/css; charset=utf-8")
        #expect(type("/app.js") == "text/javascript; charset=utf-8")
        #expect(type("/x.json") == "application/json")
        #expect(type("/logo.png") == "image/png")
        #expect(type("/p.JPG") == "image/jpeg")
        #expect(type("/i.svg") == "image/svg+xml")
        #expect(type("/m.wasm") == "application/wasm")
        #expect(type("/doc.pdf") == "application/pdf")
        #expect(type("/robots.txt") == "text/plain; charset=utf-8")
        #expect(type("/noext") == "application/octet-stream")
        #expect(type("/dir.html/file") == "application/octet-stream")
        #expect(type("/archive.tar.unknown") == "application/octet-stream")
    }

    @Test func byteWriterStopsAtTheEnd() {
        var storage = [UInt8](repeating: 0, count: 16)
        storage.withUnsafeMutableBytes { buffer in
            var writer = HTTPByteWriter(buffer)
            writer.append("abc")
            writer.append(decimal: 0)
            writer.append(decimal: 1234)
            writer.append(hex: 0xbeef)
            #expect(String(decoding: writer.written, as: UTF8.self) == "abc01234beef")
            #expect(!writer.overflowed)
            writer.append("12345")
            #expect(writer.overflowed)
            #expect(writer.count == 12)
        }
    }
}
