import Foundation
import Testing
@testable import MTCPHTTP

func decodeConfiguration(_ json: String) throws(HTTPConfigurationError) -> HTTPServerConfiguration {
    try HTTPServerConfiguration.decode(Data(json.utf8), file: "conf/test.json")
}

func configurationError(_ json: String) -> String? {
    do {
        _ = try decodeConfiguration(json)
        return nil
    } catch {
        return error.description
    }
}

@Suite struct HTTPServerConfigurationTests {
    /// The shipped file spells out every default, and turns HTTPS on with the
    /// default TLS settings (`make tls-cert` makes its certificate).
    @Test func theShippedFileHoldsTheDefaults() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("conf/httpd.json").path
        var expected = HTTPServerConfiguration()
        expected.tls = HTTPServerConfiguration.TLS()
        #expect(try HTTPServerConfiguration.load(path: file) == expected)
        #expect(HTTPServerConfiguration().tls == nil, "no HTTPS unless the file asks for it")
        #expect(try decodeConfiguration("{}") == HTTPServerConfiguration())
        let defaults = HTTPServerConfiguration()
        #expect(defaults.listenPort == 80 && defaults.documentRoot == "www" && !defaults.accessLog)
        #expect(defaults.routes.isEmpty && defaults.upstreams.isEmpty)
    }

    @Test func decodesEveryKey() throws {
        let configuration = try decodeConfiguration("""
            {"listen_port": 8080, "document_root": "/srv/www", "server_name": "edge", "access_log": true,
             "limits": {"max_request_line": 100, "max_header_count": 5, "max_header_bytes": 200,
                        "max_body_bytes": 300, "max_chunk_line": 40, "length_required": false},
             "timeouts": {"header_ms": 1, "idle_ms": 2, "upstream_connect_ms": 3, "upstream_read_ms": 4},
             "cache": {"max_bytes": 1000, "max_file_bytes": 10},
             "routes": [{"prefix": "/api/", "upstream": "backend"}],
             "upstreams": [{"name": "backend", "servers": ["198.18.0.2:8080", "10.0.0.1:80"]}],
             "trusted_proxies": ["198.18.0.9", "2001:db8::7"]}
            """)
        #expect(configuration.listenPort == 8080)
        #expect(configuration.documentRoot == "/srv/www")
        #expect(configuration.serverName == "edge")
        #expect(configuration.accessLog)
        #expect(configuration.limits == HTTPLimits(maxRequestLineLength: 100, maxHeaderCount: 5, maxHeaderBytes: 200,
                                                   maxBodyBytes: 300, maxChunkLineLength: 40, lengthRequired: false))
        #expect(configuration.timeouts.headerMilliseconds == 1 && configuration.timeouts.upstreamReadMilliseconds == 4)
        #expect(configuration.cache.maxBytes == 1000 && configuration.cache.maxFileBytes == 10)
        #expect(configuration.routes == [.init(prefix: "/api/", upstream: "backend")])
        let server = try #require(configuration.upstreams.first?.servers.first)
        #expect(server.address == "198.18.0.2" && server.peer == HTTPPeerAddress(ipv4: 0xC612_0002) && server.port == 8080)
        let v6 = try HTTPServerConfiguration.decode(Data(#"{"upstreams": [{"name": "v6", "servers": ["[2001:db8::5]:8080"]}]}"#.utf8),
                                                    file: "v6.json")
        let v6Server = try #require(v6.upstreams.first?.servers.first)
        #expect(v6Server.address == "2001:db8::5" && v6Server.port == 8080
            && v6Server.peer == HTTPPeerAddress(ipv6High: 0x2001_0DB8_0000_0000, low: 5))
        #expect(configuration.staticFileCache.maxMemoryBytes == 1000)
        #expect(configuration.trustedProxies == [HTTPPeerAddress(ipv4: 0xC612_0009),
                                                 HTTPPeerAddress(ipv6High: 0x2001_0DB8_0000_0000, low: 7)])
    }

    @Test func partialObjectsKeepTheOtherDefaults() throws {
        let configuration = try decodeConfiguration(#"{"limits": {"max_body_bytes": 5}}"#)
        #expect(configuration.limits.maxBodyBytes == 5)
        #expect(configuration.limits.maxHeaderCount == HTTPLimits().maxHeaderCount)
    }

    @Test func decodesTheTLSObject() throws {
        let configuration = try decodeConfiguration("""
            {"tls": {"listen_port": 8443, "certificate": "c.pem", "private_key": "k.pem", "min_protocol": "TLSv1.3",
                     "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256", "ciphersuites": "TLS_AES_128_GCM_SHA256",
                     "session_tickets": false, "handshake_timeout_ms": 500}}
            """)
        let tls = try #require(configuration.tls)
        #expect(tls.listenPort == 8443 && tls.certificate == "c.pem" && tls.privateKey == "k.pem")
        #expect(tls.minProtocol == "TLSv1.3" && tls.ciphers == "ECDHE-ECDSA-AES128-GCM-SHA256")
        #expect(tls.cipherSuites == "TLS_AES_128_GCM_SHA256" && !tls.sessionTickets && tls.handshakeMilliseconds == 500)
        #expect(try decodeConfiguration(#"{"tls": {}}"#).tls == HTTPServerConfiguration.TLS())
    }

    @Test func tlsMistakesAreNamed() {
        #expect(configurationError("{\n\"tls\": {\n  \"min_protocol\": \"TLSv1.1\"}}")
                == "conf/test.json:3: tls.min_protocol: must be one of TLSv1.2, TLSv1.3")
        #expect(configurationError(#"{"tls": {"listen_port": 80}}"#)
                == "conf/test.json:1: tls.listen_port: must differ from listen_port")
        #expect(configurationError(#"{"tls": {"listen_port": 0}}"#) == "conf/test.json:1: tls.listen_port: must be 1...65535")
        #expect(configurationError(#"{"tls": {"handshake_timeout_ms": 0}}"#)
                == "conf/test.json:1: tls.handshake_timeout_ms: must be positive")
        #expect(configurationError(#"{"tls": {"certificate": ""}}"#) == "conf/test.json:1: tls.certificate: must not be empty")
        #expect(configurationError(#"{"tls": {"cert": "x"}}"#)?.hasPrefix("conf/test.json:1: tls.cert: unknown key") == true)
    }

    @Test func accessLogFormat() throws {
        #expect(try decodeConfiguration("{}").accessLogFormat == .combined)
        #expect(try decodeConfiguration(#"{"access_log_format": "json"}"#).accessLogFormat == .json)
        #expect(configurationError("{\n\"access_log\": true,\n\"access_log_format\": \"xml\"}")
                == "conf/test.json:3: access_log_format: must be one of combined, json")
    }

    @Test func errorsNameTheFileTheKeyAndTheLine() {
        #expect(configurationError("{\n  \"listen_port\": 80,\n  \"listen_prot\": 81\n}")?
            .hasPrefix("conf/test.json:3: listen_prot: unknown key") == true)
        #expect(configurationError("{\n\"limits\": {\n  \"max_body\": 1\n}}")?
            .hasPrefix("conf/test.json:3: limits.max_body: unknown key") == true)
        #expect(configurationError("{\"listen_port\": \"80\"}") == "conf/test.json:1: listen_port: expected a number")
        let overflow = configurationError("{\"listen_port\": 70000}")
        #expect(overflow == "conf/test.json:1: listen_port: must be 1...65535")
        #expect(configurationError("{\"access_log\": 1}") == "conf/test.json:1: access_log: expected true or false")
        #expect(configurationError("{\"listen_port\": 0}") == "conf/test.json:1: listen_port: must be 1...65535")
        #expect(configurationError("{\"routes\": [{\"prefix\": \"/a\"}]}") == "conf/test.json:1: routes[0].upstream: missing")
        #expect(configurationError("{\"routes\": [{\"prefix\": \"/a\", \"upstream\": \"none\"}]}")
                == "conf/test.json:1: routes[0].upstream: no upstream pool is named \"none\"")
        #expect(configurationError("{\"routes\": [{\"prefix\": \"a\", \"upstream\": \"p\"}],"
                                   + "\"upstreams\": [{\"name\": \"p\", \"servers\": [\"1.2.3.4:1\"]}]}")
                == "conf/test.json:1: routes[0].prefix: must start with \"/\"")
        #expect(configurationError("{\"upstreams\": [{\"name\": \"p\",\n \"servers\": [\"1.2.3.4\"]}]}")?
            .hasPrefix("conf/test.json:2: upstreams[0].servers[0]: \"1.2.3.4\" is not an address and port") == true)
        for bad in ["[2001:db8::5]", "2001:db8::5:8080", "[::ffff:1.2.3.4]:80", "[2001:db8::5]:0"] {
            #expect(configurationError("{\"upstreams\": [{\"name\": \"p\", \"servers\": [\"\(bad)\"]}]}")?
                .contains("is not an address and port") == true, "\(bad)")
        }
        #expect(configurationError("{\"trusted_proxies\": [\"1.2.3\"]}")?
            .hasPrefix("conf/test.json:1: trusted_proxies[0]: \"1.2.3\" is not an IPv4 or IPv6 address") == true)
        #expect(configurationError("{\"upstreams\": [{\"name\": \"p\", \"servers\": []}]}")
                == "conf/test.json:1: upstreams[0].servers: must list at least one server")
        #expect(configurationError("{\"upstreams\": [{\"name\": \"p\\r\\nq\", \"servers\": [\"1.2.3.4:1\"]}]}")
                == "conf/test.json:1: upstreams[0].name: must not contain control characters")
        #expect(configurationError("{\"server_name\": \"two words\"}")?.hasPrefix("conf/test.json:1: server_name:") == true)
        #expect(configurationError("{\"cache\": {\"max_bytes\": -1}}") == "conf/test.json:1: cache.max_bytes: must be positive")
        let syntax = configurationError("{\"listen_port\": 80")
        #expect(syntax?.hasPrefix("conf/test.json: The given data was not valid JSON") == true, "\(syntax ?? "")")
        #expect(configurationError("[]") != nil)
    }

    @Test func errorResponsesArePrebuiltAndDated() throws {
        let responses = HTTPErrorResponses(serverName: "test", now: 784_111_777)
        for status in HTTPErrorResponses.statuses {
            let keepAliveBytes = responses.response(for: status, keepAlive: true)
            let text = String(decoding: try #require(keepAliveBytes), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 \(status.rawValue) \(status.reasonPhrase)\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"))
            let closes = HTTPErrorResponses.mustClose(status)
            #expect(text.contains(closes ? "Connection: close\r\n" : "Connection: keep-alive\r\n"), "\(status.rawValue)")
            let closeBytes = responses.response(for: status, keepAlive: false)
            let close = String(decoding: try #require(closeBytes), as: UTF8.self)
            #expect(close.contains("Connection: close\r\n"))
            let body = text[text.range(of: "\r\n\r\n")!.upperBound...]
            if status == .noContent {
                // OPTIONS' answer: no content and no Content-Length (RFC 9110 §8.6).
                #expect(body.isEmpty && !text.contains("Content-Length"))
                #expect(text.contains("Allow: GET, HEAD, OPTIONS\r\n"))
                continue
            }
            #expect(text.contains("<h1>\(status.rawValue) \(status.reasonPhrase)</h1>"))
            #expect(text.contains("Content-Length: \(body.utf8.count)\r\n"))
        }
        #expect(HTTPErrorResponses.mustClose(.badRequest) && !HTTPErrorResponses.mustClose(.notFound))
        let notAllowed = String(decoding: responses.response(for: .methodNotAllowed, keepAlive: true)!, as: UTF8.self)
        #expect(notAllowed.contains("Allow: GET, HEAD, OPTIONS\r\n"))
        let none = responses.response(for: .partialContent, keepAlive: true)
        #expect(none == nil)
        // The health path's 200 (its 503 is the error's), kept alive.
        let healthyBytes = responses.response(for: .ok, keepAlive: true)
        let healthy = String(decoding: try #require(healthyBytes), as: UTF8.self)
        #expect(healthy.hasPrefix("HTTP/1.1 200 OK\r\n") && healthy.contains("Connection: keep-alive\r\n"))
        responses.refreshDate(HTTPDateClock(now: 784_111_778))
        let patched = String(decoding: responses.response(for: .notFound, keepAlive: false)!, as: UTF8.self)
        #expect(patched.contains("Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n"))
    }
}
