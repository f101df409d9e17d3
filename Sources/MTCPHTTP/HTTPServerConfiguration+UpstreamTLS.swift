/// HTTPS to the servers of an upstream pool (`upstreams[].tls`): `true` for
/// the defaults, or an object that changes some of them.
extension HTTPServerConfiguration {
    public struct UpstreamTLS: Hashable, Sendable {
        /// Whether the server's certificate must chain to `caFile` and name the
        /// server (`verify`).
        public var verify = true
        /// PEM file of the trusted certificate authorities (`ca_file`).
        public var caFile = UpstreamTLS.defaultCAFile
        /// The name sent in the hello (SNI) and checked against the certificate
        /// (`server_name`); nil: no SNI, and each server's IP address is checked.
        public var serverName: String?
        /// The client certificate and its key (`certificate`, `private_key`): both or neither.
        public var certificate: String?
        public var privateKey: String?
        /// Oldest protocol offered (`min_protocol`): one of `TLS.protocols`.
        public var minProtocol = "TLSv1.2"

        /// Debian's bundle of the system's trusted authorities.
        public static let defaultCAFile = "/etc/ssl/certs/ca-certificates.crt"

        public init() {}

        /// The first setting that cannot be used, as (key path under `key`, message).
        func problem(at key: String) -> (String, String)? {
            if !TLS.protocols.contains(minProtocol) {
                return (key + ".min_protocol", "must be one of " + TLS.protocols.joined(separator: ", "))
            }
            if caFile.isEmpty { return (key + ".ca_file", "must not be empty") }
            if let serverName, !Self.isHostName(serverName) {
                return (key + ".server_name", "\"\(serverName)\" is not a DNS name (without it, the server's address is checked)")
            }
            switch (certificate, privateKey) {
            case (nil, nil): return nil
            case (let certificate?, let privateKey?):
                if certificate.isEmpty { return (key + ".certificate", "must not be empty") }
                if privateKey.isEmpty { return (key + ".private_key", "must not be empty") }
                return nil
            case (nil, _): return (key + ".private_key", "needs a \"certificate\" beside it")
            case (_, nil): return (key + ".certificate", "needs a \"private_key\" beside it")
            }
        }

        /// A DNS name (RFC 1123 labels of letters, digits and hyphens, dot
        /// separated, 253 characters at most), not an IP address: an address
        /// is neither sent as SNI (RFC 6066 §3) nor needs naming, it is checked without.
        static func isHostName(_ name: String) -> Bool {
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            guard !name.isEmpty, name.utf8.count <= 253, HTTPPeerAddress(text: name) == nil else { return false }
            return labels.allSatisfy { label in
                (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy { ASCII.isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0 | 0x20) || $0 == UInt8(ascii: "-") }
            }
        }
    }
}

extension HTTPServerConfiguration.UpstreamTLS: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case verify, caFile = "ca_file", serverName = "server_name", certificate, privateKey = "private_key"
        case minProtocol = "min_protocol"
    }

    /// Decodes the object form; absent keys keep their defaults.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Keys.self)
        let container = try decoder.container(keyedBy: Keys.self)
        verify = try container.decodeIfPresent(Bool.self, forKey: .verify) ?? verify
        caFile = try container.decodeIfPresent(String.self, forKey: .caFile) ?? caFile
        serverName = try container.decodeIfPresent(String.self, forKey: .serverName)
        certificate = try container.decodeIfPresent(String.self, forKey: .certificate)
        privateKey = try container.decodeIfPresent(String.self, forKey: .privateKey)
        minProtocol = try container.decodeIfPresent(String.self, forKey: .minProtocol) ?? minProtocol
    }

    /// `true` (the defaults), `false` (plain HTTP: nil) or the object.
    static func decode<Key: CodingKey>(from container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> Self? {
        if let enabled = try? container.decodeIfPresent(Bool.self, forKey: key) { return enabled ? Self() : nil }
        return try container.decodeIfPresent(Self.self, forKey: key)
    }
}
