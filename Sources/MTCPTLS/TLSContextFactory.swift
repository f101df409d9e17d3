import COpenSSL

/// Makes the OpenSSL contexts (SSL_CTX) of one core: each core its own, so the
/// data path shares nothing between cores. The caller frees them with `free`.
public enum TLSContextFactory {
    /// A server context from `settings`, with its certificate and key loaded and
    /// checked against each other.
    public static func server(_ settings: TLSServerSettings) throws(TLSSetupError) -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSSetupError("cannot make an SSL context") }
        do throws(TLSSetupError) {
            try configureServer(context, settings)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        return context
    }

    private static func configureServer(_ context: OpaquePointer,
                                        _ settings: TLSServerSettings) throws(TLSSetupError) {
        try useCertificate(context, certificatePath: settings.certificatePath, privateKeyPath: settings.privateKeyPath)
        try setMinimumVersion(context, settings.minimumVersion)
        guard SSL_CTX_set_cipher_list(context, settings.ciphers) == 1 else {
            throw TLSSetupError("no usable cipher in \"\(settings.ciphers)\"", setting: "ciphers")
        }
        if let suites = settings.cipherSuites, SSL_CTX_set_ciphersuites(context, suites) != 1 {
            throw TLSSetupError("no usable TLS 1.3 cipher suite in \"\(suites)\"", setting: "ciphersuites")
        }
        // No renegotiation (a client could make the server redo the costly part at
        // will); tickets only if asked.
        var options = mtcp_ssl_op_no_renegotiation
        if !settings.sessionTickets { options |= mtcp_ssl_op_no_ticket }
        SSL_CTX_set_options(context, options)
        // Resumption is by ticket alone: a per-core session cache would resume
        // only on the core that made the session.
        _ = mtcp_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
        // With SSL_OP_NO_TICKET OpenSSL 3 still sends TLS 1.3 clients stateful
        // tickets, which need that cache: none at all then.
        if !settings.sessionTickets { _ = SSL_CTX_set_num_tickets(context, 0) }
        if settings.sessionTickets {
            guard mtcp_ssl_ctx_use_ticket_keys(context, settings.ticketKeys.keys) == 1 else {
                throw TLSSetupError("cannot set the session ticket keys")
            }
        }
        setCommonModes(context)
        mtcp_ssl_ctx_select_http1(context)
    }

    /// A client context: the server's certificate verified against the
    /// settings' authorities (unless `verify` is off), the client's own
    /// certificate when it has one, ALPN http/1.1 offered. Sessions are kept by
    /// the caller (`TLSStream.session()`) for resumption.
    public static func client(_ settings: TLSClientSettings) throws(TLSSetupError) -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TLSSetupError("cannot make an SSL context") }
        do throws(TLSSetupError) {
            try configureClient(context, settings)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        return context
    }

    private static func configureClient(_ context: OpaquePointer,
                                        _ settings: TLSClientSettings) throws(TLSSetupError) {
        if settings.verify {
            guard SSL_CTX_load_verify_locations(context, settings.caFilePath, nil) == 1 else {
                throw TLSSetupError("cannot load the certificate authorities \(settings.caFilePath)", setting: "ca_file")
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if let certificatePath = settings.certificatePath, let privateKeyPath = settings.privateKeyPath {
            try useCertificate(context, certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        }
        try setMinimumVersion(context, settings.minimumVersion)
        SSL_CTX_set_options(context, mtcp_ssl_op_no_renegotiation)
        setCommonModes(context)
        let alpn: [UInt8] = [8] + Array("http/1.1".utf8)
        guard SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count)) == 0 else { throw TLSSetupError("cannot set ALPN") }
    }

    /// Loads a certificate chain and its key, checked against each other.
    private static func useCertificate(_ context: OpaquePointer, certificatePath: String,
                                       privateKeyPath: String) throws(TLSSetupError) {
        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            throw TLSSetupError("cannot load the certificate \(certificatePath)", setting: "certificate")
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw TLSSetupError("cannot load the private key \(privateKeyPath)", setting: "private_key")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSSetupError("the private key \(privateKeyPath) does not match the certificate "
                + certificatePath, setting: "private_key")
        }
    }

    private static func setMinimumVersion(_ context: OpaquePointer, _ version: TLSVersion) throws(TLSSetupError) {
        guard mtcp_ssl_ctx_set_min_proto_version(context, version == .tls13 ? TLS1_3_VERSION : TLS1_2_VERSION) == 1 else {
            throw TLSSetupError("cannot set the minimum protocol \(version.rawValue)", setting: "min_protocol")
        }
    }

    /// Writes of any size go out in as many records as they need and may be
    /// taken in part; buffers of idle connections go back to the allocator
    /// (thousands of kept-alive connections would otherwise hold 34 KiB each).
    private static func setCommonModes(_ context: OpaquePointer) {
        _ = mtcp_ssl_ctx_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
            | SSL_MODE_RELEASE_BUFFERS))
    }

    public static func free(_ context: OpaquePointer) { SSL_CTX_free(context) }
}
