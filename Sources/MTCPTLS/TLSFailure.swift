import COpenSSL
import Glibc
import MTCP

/// A TLS connection that cannot go on: the handshake failed (a bad client hello,
/// no common protocol or cipher, a wrong record) or a record after it did.
public struct TLSFailure: Error, Sendable {
    /// Whether the handshake was still in progress.
    public var duringHandshake: Bool
    /// OpenSSL's packed error code (0 when it queued none).
    public var code: UInt

    /// The client spoke plain HTTP to the TLS port (OpenSSL recognises the
    /// method names); it can be answered in plain HTTP.
    public var isPlainHTTP: Bool { ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST }

    private static let systemErrorFlag: UInt = 1 << 31

    /// OpenSSL's text for the failure, e.g. "wrong version number".
    public var reason: String { code == 0 ? "protocol error" : Self.reason(of: code) }

    static func reason(of code: UInt) -> String {
        // A failed system call (fopen of a missing file) carries its errno, with
        // the top bit set (OpenSSL's ERR_SYSTEM_FLAG), and no text of OpenSSL's.
        if code & systemErrorFlag != 0 { return String(cString: strerror(Int32(code & (systemErrorFlag - 1)))) }
        guard let text = ERR_reason_error_string(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// What a TLS read or write can end in besides bytes.
public enum TLSStreamError: Error, Sendable {
    /// Nothing to read, or no room to write, right now: wait for the socket's event.
    case wouldBlock
    /// The socket failed under the stream (reset, timed out).
    case socket(SocketError)
    /// TLS itself failed; an alert may be waiting in the stream's output.
    case failed(TLSFailure)
}
