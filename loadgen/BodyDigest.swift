import COpenSSL

/// A reusable SHA-256 computation (OpenSSL's EVP interface) for checking
/// response bodies against `--expect-sha256`. One per connection slot,
/// allocated at start-up and restarted for each response, so a request costs
/// no allocation. A handle: its owner calls `release` once.
struct BodyDigest {
    private let context: OpaquePointer

    init() {
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed (out of memory)") }
        self.context = context
    }

    func release() { EVP_MD_CTX_free(context) }

    /// Starts a new body.
    func restart() {
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    /// Whether the body so far hashes to `expected` (32 bytes).
    func matches(_ expected: UnsafeRawBufferPointer) -> Bool {
        var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var length: UInt32 = 0
        return withUnsafeMutableBytes(of: &digest) { digest in
            EVP_DigestFinal_ex(context, digest.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1
                && length == 32 && digest.elementsEqual(expected)
        }
    }

    /// The SHA-256 of `bytes` (for tests and for checking `--verify-body` files).
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        let digest = BodyDigest()
        defer { digest.release() }
        digest.restart()
        bytes.withUnsafeBytes { digest.update($0) }
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(digest.context, &out, &length)
        return out
    }
}
