import COpenSSL

/// Why a TLS context could not be made: the setting at fault (a key of the
/// configuration's `tls` object, when one is), what was tried, and OpenSSL's reasons.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    /// `certificate`, `private_key`, `min_protocol`, `ciphers` or `ciphersuites`; nil
    /// when no setting is at fault (OpenSSL could not allocate).
    public var setting: String?
    public var message: String

    public var description: String { message }

    init(_ what: String, setting: String? = nil) {
        self.setting = setting
        message = what + TLSSetupError.drainOpenSSLErrors()
    }

    /// OpenSSL's queued reasons (": reason; reason"), emptying the thread's queue.
    static func drainOpenSSLErrors() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            let reason = TLSFailure.reason(of: code)
            // "system lib" only says the reason before it came from a system call.
            if reason != "system lib" && !reasons.contains(reason) { reasons.append(reason) }
        }
        return reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")
    }
}
