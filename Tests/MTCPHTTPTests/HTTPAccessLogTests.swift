import Testing
import MTCPHTTP

/// Holds the non-copyable log so test macros can refer to it.
final class LogBox {
    var log = HTTPAccessLog(capacity: HTTPAccessLog.minimumCapacity)

    func append(_ requestLine: String, status: HTTPStatus = .ok, bytes: Int = 26, referer: String? = nil,
                userAgent: String? = "curl/8.0", now: Int64 = 784_111_777) -> Bool {
        let line = Array(requestLine.utf8)
        let ref = referer.map { Array($0.utf8) }
        let agent = userAgent.map { Array($0.utf8) }
        return line.withUnsafeBytes { lineBytes in
            optionalBytes(ref) { refBytes in
                optionalBytes(agent) { agentBytes in
                    log.append(client: 0xC612_0002, now: now, requestLine: lineBytes, status: status, bytes: bytes,
                               referer: refBytes, userAgent: agentBytes)
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
    @Test func writesCombinedLogFormat() {
        let box = LogBox()
        #expect(box.append("GET / HTTP/1.1", referer: "http://a/b"))
        #expect(box.append("", status: .badRequest, bytes: 0, userAgent: nil, now: 784_111_777 + 86_400 * 40))
        #expect(box.text == """
            198.18.0.2 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 26 "http://a/b" "curl/8.0"
            198.18.0.2 - - [16/Dec/1994:08:49:37 +0000] "-" 400 - "-" "-"

            """)
        box.log.removeAll()
        #expect(box.text.isEmpty)
    }

    @Test func requestBytesAreEscaped() {
        let box = LogBox()
        #expect(box.append("GET /\"x\\ HTTP/1.1", userAgent: "evil\n198.18.0.9 - - fake\u{7f}é"))
        #expect(box.text.hasSuffix(#""GET /\x22x\x5C HTTP/1.1" 200 26 "-" "evil\x0A198.18.0.9 - - fake\x7F\xC3\xA9""# + "\n"))
    }

    @Test func fullBufferRefusesWholeLinesAndFieldsAreBounded() {
        let box = LogBox()
        let long = String(repeating: "a", count: 3000)
        var lines = 0
        while box.append("GET /\(long) HTTP/1.1", userAgent: long) { lines += 1 }
        #expect(lines == 1, "each line is about 2.1 KB, the buffer 4 KB")
        #expect(box.text.hasSuffix("\"\n"), "no partial line")
        #expect(box.text.utf8.count < 2 * HTTPAccessLog.maxFieldBytes + 100)
        box.log.removeAll()
        #expect(box.append("GET / HTTP/1.1"))
    }
}
