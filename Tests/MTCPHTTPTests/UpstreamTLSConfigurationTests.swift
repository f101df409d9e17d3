import Testing
@testable import MTCPHTTP

/// `tls` of an upstream pool: `true`, `false` or an object, its defaults, and
/// its mistakes named with their line.
@Suite struct UpstreamTLSConfigurationTests {
    static func pool(_ tls: String) -> String {
        """
        {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8443"],
                        "tls": \(tls)}]}
        """
    }

    @Test func trueTakesTheDefaultsAndFalseIsPlainHTTP() throws {
        let tls = try #require(try decodeConfiguration(Self.pool("true")).upstreams[0].tls)
        #expect(tls.verify)
        #expect(tls.caFile == "/etc/ssl/certs/ca-certificates.crt")
        #expect(tls.serverName == nil && tls.certificate == nil && tls.privateKey == nil)
        #expect(tls.minProtocol == "TLSv1.2")
        #expect(try decodeConfiguration(Self.pool("false")).upstreams[0].tls == nil)
        #expect(try decodeConfiguration("""
            {"upstreams": [{"name": "b", "servers": ["198.18.0.2:8080"]}]}
            """).upstreams[0].tls == nil)
    }

    @Test func theObjectSetsEveryKey() throws {
        let tls = try #require(try decodeConfiguration(Self.pool("""
            {"verify": false, "ca_file": "/etc/ca.pem", "server_name": "api.internal.example",
             "certificate": "client.crt", "private_key": "client.key", "min_protocol": "TLSv1.3"}
            """)).upstreams[0].tls)
        #expect(!tls.verify)
        #expect(tls.caFile == "/etc/ca.pem")
        #expect(tls.serverName == "api.internal.example")
        #expect(tls.certificate == "client.crt" && tls.privateKey == "client.key")
        #expect(tls.minProtocol == "TLSv1.3")
        // Verification stays on unless turned off.
        #expect(try decodeConfiguration(Self.pool(#"{"server_name": "a.example"}"#)).upstreams[0].tls?.verify == true)
    }

    @Test func mistakesAreNamedWithTheirLine() {
        #expect(configurationError(Self.pool(#"{"min_protocol": "TLSv1.1"}"#))
            == "conf/test.json:2: upstreams[0].tls.min_protocol: must be one of TLSv1.2, TLSv1.3")
        #expect(configurationError(Self.pool(#"{"certificate": "client.crt"}"#))
            == "conf/test.json:2: upstreams[0].tls.certificate: needs a \"private_key\" beside it")
        #expect(configurationError(Self.pool(#"{"private_key": "client.key"}"#))
            == "conf/test.json:2: upstreams[0].tls.private_key: needs a \"certificate\" beside it")
        #expect(configurationError(Self.pool(#"{"ca_file": ""}"#))
            == "conf/test.json:2: upstreams[0].tls.ca_file: must not be empty")
        #expect(configurationError(Self.pool(#"{"server_name": "198.18.0.2"}"#))
            == "conf/test.json:2: upstreams[0].tls.server_name: \"198.18.0.2\" is not a DNS name "
            + "(without it, the server's address is checked)")
        #expect(configurationError(Self.pool(#"{"server_name": "bad_name.example"}"#))?
            .hasPrefix("conf/test.json:2: upstreams[0].tls.server_name: \"bad_name.example\" is not a DNS name") == true)
        #expect(configurationError(Self.pool(#"{"verfy": false}"#))?.hasPrefix("conf/test.json:2: upstreams[0].tls") == true)
        #expect(configurationError(Self.pool(#""yes""#))?.hasPrefix("conf/test.json:2: upstreams[0].tls") == true)
        // The second pool's mistake, on its own line.
        #expect(configurationError("""
            {"upstreams": [{"name": "a", "servers": ["198.18.0.2:8443"], "tls": true},
                           {"name": "b", "servers": ["198.18.0.2:8444"],
                            "tls": {"server_name": "b.example",
                                    "min_protocol": "SSLv3"}}]}
            """) == "conf/test.json:4: upstreams[1].tls.min_protocol: must be one of TLSv1.2, TLSv1.3")
    }

    @Test func hostNames() {
        let valid = ["a", "upstream.test", "api-1.internal.example", String(repeating: "a", count: 63) + ".example"]
        let invalid = ["", ".", "a..b", "-a.example", "a-.example", "a_b", String(repeating: "a", count: 64), "::1",
                       "10.0.0.1", "a.example:443"]
        #expect(valid.allSatisfy(HTTPServerConfiguration.UpstreamTLS.isHostName))
        #expect(!invalid.contains(where: HTTPServerConfiguration.UpstreamTLS.isHostName))
    }
}
