import COpenSSL
import Glibc
import MTCPTLS

/// A TLS client (or server) for the virtual link: OpenSSL with memory BIOs on
/// top of an `HTTPTestClient` (or a `ScriptedUpstream` connection), whose
/// `pending` bytes it fills with ciphertext and whose `received` bytes it
/// decrypts. `pump` once a round moves everything on.
final class TLSTestPeer {
    let ssl: OpaquePointer
    private let incoming: OpaquePointer
    private let outgoingCiphertext: OpaquePointer
    /// Ciphertext of `received` already given to OpenSSL.
    private var fed = 0
    /// Plaintext to send once the handshake allows it.
    private var outgoing: [UInt8] = []
    /// Decrypted bytes from the peer.
    var plaintext: [UInt8] = []
    /// OpenSSL's reason when the handshake or a record failed.
    var failure: String?
    /// The peer's close_notify arrived.
    var sawCloseNotify = false

    /// A client offering `alpn` (nothing when empty), limited to `maxVersion`
    /// when given, offering `session` for resumption.
    init(alpn: [String] = ["http/1.1"], maxVersion: Int32? = nil, session: OpaquePointer? = nil) {
        let context = SSL_CTX_new(TLS_client_method())!
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        if let maxVersion { _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(maxVersion), nil) }
        let protocols = alpn.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        if !protocols.isEmpty { _ = SSL_CTX_set_alpn_protos(context, protocols, UInt32(protocols.count)) }
        ssl = SSL_new(context)!
        SSL_CTX_free(context)  // the SSL object holds a reference of its own
        (incoming, outgoingCiphertext) = Self.attachBIOs(ssl)
        SSL_set_connect_state(ssl)
        if let session { SSL_set_session(ssl, session) }
    }

    /// A server's side, with `context` (which the caller keeps).
    init(serverContext context: OpaquePointer) {
        ssl = SSL_new(context)!
        (incoming, outgoingCiphertext) = Self.attachBIOs(ssl)
        SSL_set_accept_state(ssl)
    }

    private static func attachBIOs(_ ssl: OpaquePointer) -> (incoming: OpaquePointer, outgoing: OpaquePointer) {
        let incoming = BIO_new(BIO_s_mem())!
        let outgoingCiphertext = BIO_new(BIO_s_mem())!
        mtcp_bio_set_mem_retry(incoming)
        mtcp_bio_set_mem_retry(outgoingCiphertext)
        SSL_set_bio(ssl, incoming, outgoingCiphertext)
        return (incoming, outgoingCiphertext)
    }

    deinit { SSL_free(ssl) }

    var isEstablished: Bool { SSL_is_init_finished(ssl) == 1 }
    var isResumed: Bool { SSL_session_reused(ssl) == 1 }
    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    func send(_ text: String) { outgoing += Array(text.utf8) }
    func send(_ bytes: [UInt8]) { outgoing += bytes }

    /// Plaintext not yet taken by OpenSSL.
    var isSending: Bool { !outgoing.isEmpty }

    /// One round: decrypt what arrived, encrypt what waits, hand the ciphertext over.
    func pump(_ connection: HTTPTestClient) { pump(received: connection.received, into: &connection.pending) }

    /// One round over the ciphertext `received` so far (all of it, each time)
    /// and the ciphertext to send, `pending`.
    func pump(received: [UInt8], into pending: inout [UInt8]) {
        if received.count > fed {
            received[fed...].withUnsafeBytes { _ = BIO_write(incoming, $0.baseAddress, Int32($0.count)) }
            fed = received.count
        }
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while failure == nil {
            ERR_clear_error()
            let count = SSL_read(ssl, &buffer, Int32(buffer.count))
            if count > 0 {
                plaintext += buffer[0..<Int(count)]
                continue
            }
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ: break
            case SSL_ERROR_ZERO_RETURN: sawCloseNotify = true
            default: failure = ERR_reason_error_string(ERR_get_error()).map { String(cString: $0) } ?? "unknown"
            }
            break
        }
        if isEstablished && !outgoing.isEmpty {
            let written = outgoing.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            if written > 0 { outgoing.removeFirst(Int(written)) }
        }
        while mtcp_bio_pending(outgoingCiphertext) > 0 {
            let count = BIO_read(outgoingCiphertext, &buffer, Int32(buffer.count))
            guard count > 0 else { break }
            pending += buffer[0..<Int(count)]
        }
    }

    /// Queues close_notify; the next `pump` hands it over.
    func closeNotify() { _ = SSL_shutdown(ssl) }

    /// Queues records for TLS alone, as a TLS 1.3 server may send any time
    /// after the handshake: a KeyUpdate asking the peer to update its keys
    /// too, or a new session ticket. The next `pump` hands them over.
    func updateKeys() {
        _ = SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED)
        _ = SSL_do_handshake(ssl)
    }

    func issueTicket() {
        _ = SSL_new_session_ticket(ssl)
        _ = SSL_do_handshake(ssl)
    }

    /// The session to resume with (retained; the caller frees it).
    func session() -> OpaquePointer? { SSL_get1_session(ssl) }
}

/// A self-signed ECDSA P-256 certificate and key for the tests, made once per
/// test run with the openssl command (nothing secret is kept in the repository).
enum TestCertificate {
    static let files: (certificate: String, key: String) = {
        var template = Array("/tmp/mtcp-tls-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        let directory = String(cString: made)
        let certificate = directory + "/server.crt"
        let key = directory + "/server.key"
        let status = spawnAndWait(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                   "-nodes", "-days", "2", "-subj", "/CN=mtcp-test", "-keyout", key,
                                   "-out", certificate])
        precondition(status == 0, "openssl req failed (status \(status)): is the openssl command installed?")
        return (certificate, key)
    }()

    static func spawnAndWait(_ arguments: [String]) -> Int32 {
        var pid = pid_t()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        guard posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return status
    }
}

/// A test certificate authority and an upstream server's certificate it
/// signed, naming `upstream.test` and the address of the test network's
/// upstreams (198.18.0.3), made once per test run with the openssl command.
enum TestCertificateAuthority {
    static let name = "upstream.test"

    static let files: (authority: String, certificate: String, key: String) = {
        var template = Array("/tmp/mtcp-tls-ca-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        let directory = String(cString: made)
        let (authority, authorityKey) = (directory + "/ca.crt", directory + "/ca.key")
        let (certificate, key, request) = (directory + "/upstream.crt", directory + "/upstream.key", directory + "/upstream.csr")
        let extensions = directory + "/upstream.ext"
        let file = fopen(extensions, "w")!
        fputs("subjectAltName=DNS:\(name),IP:198.18.0.3\n", file)
        fclose(file)
        let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        let steps = [
            ["openssl", "req", "-x509"] + newKey + ["-days", "2", "-subj", "/CN=mtcp-test-ca", "-keyout", authorityKey,
                                                   "-out", authority],
            ["openssl", "req", "-new"] + newKey + ["-subj", "/CN=\(name)", "-keyout", key, "-out", request],
            ["openssl", "x509", "-req", "-in", request, "-CA", authority, "-CAkey", authorityKey, "-CAcreateserial",
             "-days", "2", "-extfile", extensions, "-out", certificate],
        ]
        for step in steps {
            let status = TestCertificate.spawnAndWait(step)
            precondition(status == 0, "\(step[0...1].joined(separator: " ")) failed (status \(status))")
        }
        return (authority, certificate, key)
    }()
}
