import Testing
@testable import MTCPHTTP

/// A route's header policy in httpd.json: `host`, `forwarded`, `request_headers`
/// and `response_headers`, and the mistakes named with their line.
@Suite struct ProxyHeaderPolicyConfigurationTests {
    static let pools = "\"upstreams\": [{\"name\": \"b\", \"servers\": [\"198.18.0.2:8080\"]}]"

    @Test func decodesThePolicy() throws {
        let configuration = try decodeConfiguration("""
            {"routes": [{"prefix": "/a/", "upstream": "b", "host": "api.internal:8080", "forwarded": true,
                         "request_headers": {"add": {"X-Env": "prod", "A-First": "1"}, "remove": ["Cookie"]},
                         "response_headers": {"remove": ["Server", "X-Powered-By"]}},
                        {"prefix": "/b/", "upstream": "b"}],
             \(Self.pools)}
            """)
        let policy = configuration.routes[0].headerPolicy
        #expect(policy.host == Array("api.internal:8080".utf8))
        #expect(policy.forwarded)
        #expect(String(decoding: policy.request.added, as: UTF8.self) == "A-First: 1\r\nX-Env: prod\r\n")
        for (name, dropped) in [("cookie", true), ("X-ENV", true), ("a-first", true), ("Accept", false)] {
            #expect(Array(name.utf8).withUnsafeBytes { policy.request.drops($0) } == dropped, "\(name)")
        }
        #expect(Array("server".utf8).withUnsafeBytes { policy.response.drops($0) })
        #expect(policy.response.added.isEmpty)
        #expect(configuration.routes[1].headerPolicy == HTTPProxyHeaderPolicy())
    }

    @Test func mistakesAreNamedWithTheirLine() {
        #expect(configurationError("""
            {"routes": [{"prefix": "/a/", "upstream": "b",
              "request_headers": {"add": {"Host": "x"}}}], \(Self.pools)}
            """) == "conf/test.json:2: routes[0].request_headers.add.Host: Host is written by the proxy itself")
        #expect(configurationError("""
            {"routes": [{"prefix": "/a/", "upstream": "b",
              "response_headers": {"remove": ["Server", "Content-Length"]}}], \(Self.pools)}
            """) == "conf/test.json:2: routes[0].response_headers.remove[1]: Content-Length is written by the proxy itself")
        #expect(configurationError("""
            {"routes": [{"prefix": "/a/", "upstream": "b",
              "response_headers": {"add": {"X-A": "two\\nlines"}}}], \(Self.pools)}
            """)?.hasPrefix("conf/test.json:2: routes[0].response_headers.add.X-A: \"two\nlines\" is not a field value") == true)
        #expect(configurationError("""
            {"routes": [{"prefix": "/a/", "upstream": "b", "host": "a b"}], \(Self.pools)}
            """)?.hasPrefix("conf/test.json:1: routes[0].host: \"a b\" is not a host") == true)
        #expect(configurationError("""
            {"routes": [{"prefix": "/a/", "upstream": "b", "request_headers": {"set": {}}}], \(Self.pools)}
            """)?.hasPrefix("conf/test.json:1: routes[0].request_headers.set: unknown key") == true)
        let long = String(repeating: "v", count: 1100)
        #expect(configurationError("""
            {"routes": [{"prefix": "/a/", "upstream": "b", "request_headers": {"add": {"X-Long": "\(long)"}}}],
             \(Self.pools)}
            """) == "conf/test.json:1: routes[0].request_headers.add: its fields take 1110 bytes with their names; "
                + "at most 1024 fit beside the proxied head")
    }
}
