import Glibc
import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// logrotate's convention: rename the log, then SIGUSR1 makes each core reopen
/// it; every line lands in one file or the other, none is lost.
@Suite struct AccessLogWriterTests {
    static func record(_ writer: inout AccessLogWriter, _ path: String) {
        Array("GET \(path) HTTP/1.1".utf8).withUnsafeBytes { line in
            writer.record(client: IPAddress(IPv4Address(0xC612_0002)), now: 784_111_777, requestLine: line, status: .ok,
                          bytes: 5, referer: nil, userAgent: nil, requestMilliseconds: 0, upstreamMilliseconds: nil)
        }
    }

    static func lines(_ path: String) -> [String] {
        guard let file = fopen(path, "r") else { return [] }
        defer { fclose(file) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while case let count = fread(&chunk, 1, chunk.count, file), count > 0 { text += chunk[0..<count] }
        return String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func reopeningAfterARenameLosesNoLine() throws {
        let path = "/tmp/mtcp-access-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(path); unlink(path + ".1") }
        var writer = try AccessLogWriter(path: path)
        Self.record(&writer, "/one")
        writer.flush()
        #expect(rename(path, path + ".1") == 0)
        Self.record(&writer, "/two")  // recorded before the signal: still the old file's
        #expect(writer.reopen() == nil)
        Self.record(&writer, "/three")
        writer.flush()
        let rotated = Self.lines(path + ".1")
        let current = Self.lines(path)
        #expect(rotated.count == 2 && rotated[0].contains("GET /one ") && rotated[1].contains("GET /two "), "\(rotated)")
        #expect(current.count == 1 && current[0].contains("GET /three "), "\(current)")
    }

    @Test func aLogThatCannotBeReopenedKeepsTheOldFile() throws {
        let directory = "/tmp/mtcp-access-dir-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(directory, 0o755)
        let path = directory + "/access.log"
        defer { unlink(path); unlink("/tmp/\(directory.split(separator: "/").last!).log"); rmdir(directory) }
        var writer = try AccessLogWriter(path: path)
        Self.record(&writer, "/one")
        let moved = "/tmp/\(directory.split(separator: "/").last!).log"
        #expect(rename(path, moved) == 0)
        rmdir(directory)  // the log's directory is gone: it cannot be reopened
        let problem = writer.reopen()
        #expect(problem?.contains("cannot reopen the access log \(path)") == true, "\(problem ?? "nil")")
        Self.record(&writer, "/two")
        writer.flush()
        #expect(Self.lines(moved).count == 2, "the open file keeps every line")
    }
}
