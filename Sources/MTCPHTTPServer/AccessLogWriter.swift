import Glibc
import MTCP
import MTCPHTTP

/// One core's access log: lines gathered in a buffer (`HTTPAccessLog`) and
/// appended to the log file once a second or when the buffer fills, one
/// `write` per batch. Every core appends to the same file with O_APPEND, so
/// batches of whole lines never interleave within a line. `reopen` follows a
/// rotation (the file renamed away, then SIGUSR1).
struct AccessLogWriter: ~Copyable {
    private var log: HTTPAccessLog
    private var descriptor: Int32
    private let path: String?

    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    /// A writer appending lines of `format` to `path`, or one that writes nothing for nil.
    init(path: String?, format: HTTPAccessLog.Format = .combined) throws(OpenError) {
        log = HTTPAccessLog(capacity: path == nil ? HTTPAccessLog.minimumCapacity : 64 << 10, format: format)
        self.path = path
        guard let path else {
            descriptor = -1
            return
        }
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw OpenError(description: "cannot open the access log \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        guard descriptor >= 0 else { return }
        let pending = log.pending
        if !pending.isEmpty { _ = write(descriptor, pending.baseAddress, pending.count) }
        close(descriptor)
    }

    var isEnabled: Bool { descriptor >= 0 }

    /// Appends a line for one response (see `HTTPAccessLog.append`).
    mutating func record(client: IPAddress, now: Int64, requestLine: UnsafeRawBufferPointer, status: HTTPStatus,
                         bytes: Int, referer: UnsafeRawBufferPointer?, userAgent: UnsafeRawBufferPointer?,
                         requestMilliseconds: Int, upstreamMilliseconds: Int?) {
        guard descriptor >= 0 else { return }
        for attempt in 0..<2 {
            if log.append(client: HTTPPeerAddress(client), now: now, requestLine: requestLine, status: status, bytes: bytes,
                          referer: referer, userAgent: userAgent, requestMilliseconds: requestMilliseconds,
                          upstreamMilliseconds: upstreamMilliseconds) || attempt == 1 {
                return
            }
            _ = log.flush(to: descriptor)  // full: write out, then the line fits
        }
    }

    /// Writes the pending lines to the file open so far (where they were
    /// recorded), then opens `path` anew, so that lines from now on go to the file
    /// now at that path. If it cannot be opened, the old file is kept and the
    /// reason returned: no line is lost either way.
    mutating func reopen() -> String? {
        guard descriptor >= 0, let path else { return nil }
        flush()
        let fresh = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fresh >= 0 else {
            return "cannot reopen the access log \(path), still writing to the one open: \(String(cString: strerror(errno)))"
        }
        close(descriptor)
        descriptor = fresh
        return nil
    }

    /// Writes the pending lines.
    mutating func flush() {
        guard descriptor >= 0, !log.pending.isEmpty else { return }
        _ = log.flush(to: descriptor)
    }
}
