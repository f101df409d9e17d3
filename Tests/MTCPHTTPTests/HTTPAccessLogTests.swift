import Foundation
import Testing
import MTCPHTTP

/// Holds the non-copyable log so test macros can refer to it.
final class LogBox {
    var log: HTTPAccessLog

    init(format: HTTPAccessLog.Format = .combined) {
        log = HTTPAccessLog(capacity: HTTPAccessLog.minimumCapacity, format: format)
    }

    func append(_ requestLine: String, status: HTTPStatus = .ok, bytes: Int = 26, referer: String? = nil,
                userAgent: String? = "curl/8.0", now: Int64 = 784_111_777, requestMilliseconds: Int = 0,
                upstreamMilliseconds: Int? = nil, client: HTTPPeerAddress = HTTPPeerAddress(ipv4: 0xC612_0002)) -> Bool {
        let line = Array(requestLine.utf8)
        let ref = referer.map { Array($0.utf8) }
        let agent = userAgent.map { Array($0.utf8) }
        return line.withUnsafeBytes { lineBytes in
            optionalBytes(ref) { refBytes in
                optionalBytes(agent) { agentBytes in
                    log.append(client: client, now: now, requestLine: lineBytes, status: status, bytes: bytes,
                               referer: refBytes, userAgent: agentBytes, requestMilliseconds: requestMilliseconds,
                               upstreamMilliseconds: upstreamMilliseconds)
                }
            }
        }
    }

    var text: String { String(decoding: log.pending, as: UTF8.self) }
}

private func optionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

@Suite struct HTTPAccessLogTests {
    @Test func writesIPv6ClientsInCanonicalForm() {
        let box = LogBox()
        #expect(box.append("GET / HTTP/1.1", client: HTTPPeerAddress(ipv6High: 0x2001_0002_0000_0000, low: 2)))
        #expect(box.append("GET / HTTP/1.1", client: HTTPPeerAddress(ipv6High: 0x2001_0DB8_0000_0000, low: 0x1_0000_0001)))
        #expect(box.append("GET / HTTP/1.1", client: HTTPPeerAddress(ipv6High: 0xFE80_0000_0000_0000, low: 0)))
        let clients = box.text.split(separator: "\n").map { $0.prefix { $0 != " " } }
        #expect(clients == ["2001:2::2", "2001:db8::1:0:1", "fe80::"])
    }

    @Test func writesCombinedLogFormat() {
        let box = LogBox()
        #expect(box.append("GET / HTTP/1.1", referer: "http://a/b", requestMilliseconds: 1234, upstreamMilliseconds: 7))
        #expect(box.append("", status: .badRequest, bytes: 0, userAgent: nil, now: 784_111_777 + 86_400 * 40))
        #expect(box.text == """
            198.18.0.2 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 26 "http://a/b" "curl/8.0" rt=1.234 urt=0.007
            198.18.0.2 - - [16/Dec/1994:08:49:37 +0000] "-" 400 - "-" "-" rt=0.000 urt=-

            """)
        box.log.removeAll()
        #expect(box.text.isEmpty)
    }

    /// `access_log_format: json`: one object per line, valid JSON whatever bytes
    /// the client sent, with the request's and the upstream's time in seconds.
    @Test func writesJSONLinesWithTimes() throws {
        let box = LogBox(format: .json)
        #expect(box.append("GET /a HTTP/1.1", referer: "http://a/b", requestMilliseconds: 1234, upstreamMilliseconds: 7))
        #expect(box.append("", status: .badRequest, bytes: 0, userAgent: "e\"\\\n\u{7f}é", now: 784_111_777 + 86_400 * 40))
        #expect(box.text == #"""
            {"time":"1994-11-06T08:49:37Z","client":"198.18.0.2","request":"GET /a HTTP/1.1","status":200,"bytes":26,\#
            "referer":"http://a/b","user_agent":"curl/8.0","request_time":1.234,"upstream_time":0.007}
            {"time":"1994-12-16T08:49:37Z","client":"198.18.0.2","request":null,"status":400,"bytes":0,\#
            "referer":null,"user_agent":"e\u0022\u005C\u000A\u007F\u00C3\u00A9","request_time":0.000,"upstream_time":null}

            """#)
        for line in box.text.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["status"] != nil, "\(line)")
        }
    }

    @Test func requestBytesAreEscaped() {
        let box = LogBox()
        #expect(box.append("GET /\"x\\ HTTP/1.1", userAgent: "evil\n198.18.0.9 - - fake\u{7f}é"))
        #expect(box.text.hasSuffix(#""GET /\x22x\x5C HTTP/1.1" 200 26 "-" "evil\x0A198.18.0.9 - - fake\x7F\xC3\xA9" rt=0.000 urt=-"# + "\n"))
    }

    @Test func fullBufferRefusesWholeLinesAndFieldsAreBounded() {
        let box = LogBox()
        let long = String(repeating: "a", count: 3000)
        var lines = 0
        while box.append("GET /\(long) HTTP/1.1", userAgent: long) { lines += 1 }
        #expect(lines == 1, "each line is about 2.1 KB, the buffer 4 KB")
        #expect(box.text.hasSuffix("urt=-\n"), "no partial line")
        #expect(box.text.utf8.count < 2 * HTTPAccessLog.maxFieldBytes + 100)
        box.log.removeAll()
        #expect(box.append("GET / HTTP/1.1"))
    }
}
