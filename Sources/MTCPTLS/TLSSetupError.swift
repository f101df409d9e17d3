import COpenSSL

/// Why a TLS context could not be made: the file or setting, and OpenSSL's reason.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ what: String) {
        description = what + TLSSetupError.drainOpenSSLErrors()
    }

    /// OpenSSL's queued reasons (": reason; reason"), emptying the thread's queue.
    static func drainOpenSSLErrors() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            reasons.append(TLSFailure.reason(of: code))
        }
        return reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")
    }
}
