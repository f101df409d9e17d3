/// How a core's TLS server context is made: the certificate, the protocol and
/// cipher policy, and the session ticket keys every core shares.
public struct TLSServerSettings: Sendable, Equatable {
    /// PEM certificate chain file (leaf first).
    public var certificatePath: String
    /// PEM private key file of the certificate.
    public var privateKeyPath: String
    /// Oldest protocol version accepted.
    public var minimumVersion = TLSVersion.tls12
    /// TLS 1.2 cipher list (OpenSSL syntax). The default allows forward-secret
    /// AEAD suites only, as Mozilla's "intermediate" policy does.
    public var ciphers = TLSServerSettings.defaultCiphers
    /// TLS 1.3 cipher suites (OpenSSL syntax); nil keeps OpenSSL's default.
    public var cipherSuites: String?
    /// Whether clients get session tickets to resume with.
    public var sessionTickets = true
    /// Ticket encryption keys: the same on every core, so that a ticket issued
    /// on one core resumes on another (RSS spreads a client's connections).
    public var ticketKeys: TicketKeyRing

    public static let defaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    public init(certificatePath: String, privateKeyPath: String, ticketKeys: TicketKeyRing) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.ticketKeys = ticketKeys
    }
}

/// Protocol versions the server may be limited to.
public enum TLSVersion: String, Sendable, CaseIterable {
    case tls12 = "TLSv1.2"
    case tls13 = "TLSv1.3"
}

/// How a client context is made: whether and against what the server's
/// certificate is verified, the client's own certificate, the oldest protocol.
/// The name checked is the connection's (`TLSStream.client`), not the context's.
public struct TLSClientSettings: Sendable, Equatable {
    /// Whether the handshake fails on a certificate that does not chain to
    /// `caFilePath` or does not name the server.
    public var verify = true
    /// PEM file of the certificate authorities trusted.
    public var caFilePath = TLSClientSettings.defaultCAFilePath
    /// PEM certificate chain and key the client presents when asked; nil for none.
    public var certificatePath: String?
    public var privateKeyPath: String?
    /// Oldest protocol version offered.
    public var minimumVersion = TLSVersion.tls12

    /// Debian's bundle of the system's trusted authorities (package ca-certificates).
    public static let defaultCAFilePath = "/etc/ssl/certs/ca-certificates.crt"

    /// The load generator's: no verification (benchmarks run against self-signed certificates).
    public static let unverified = TLSClientSettings(verify: false)

    public init(verify: Bool = true) { self.verify = verify }
}
