import MTCP
import MTCPTLS

/// Reports failed TLS connections on standard output, a line a second at
/// most: a flood of bad hellos must not turn into a flood of lines (each
/// failure is counted in the statistics all the same).
struct TLSFailureLog {
    private var lastSecond: Int64 = -1
    private var unreported = 0

    mutating func record(_ failure: TLSFailure, client: IPAddress, second: Int64) {
        guard second != lastSecond else {
            unreported += 1
            return
        }
        lastSecond = second
        let stage = failure.duringHandshake ? "handshake failed" : "connection failed"
        let more = unreported > 0 ? " (\(unreported) more failures not shown)" : ""
        unreported = 0
        print("mtcp-httpd: TLS \(stage) from \(client): \(failure.reason)\(more)")
    }
}
