import Glibc
import Testing
@testable import MTCP
@testable import MTCPHTTPServer

/// SIGHUP's configuration reload: the files read and checked once, published
/// under a new generation when usable; refused, with each problem's file and
/// line or the keys only a restart can change, when not.
@Suite struct ReloadableConfigurationTests {
    static func http(root: String, port: Int = 80, header: String = "one") -> String {
        """
        {
            "listen_port": \(port),
            "document_root": "\(root)",
            "headers": [{"prefix": "/", "add": {"X-Generation": "\(header)"}}]
        }
        """
    }

    /// A document root, and beside it mtcp.conf, route.conf and an httpd.json
    /// serving it that start-up accepts, read into a configuration source.
    struct Files {
        let root = DocumentRoot()
        let directory = ConfigurationDirectory()
        let source: ReloadableConfiguration

        init() throws {
            directory.write("mtcp.conf", ConfigurationCheckTests.goodStack)
            directory.write("route.conf", ConfigurationCheckTests.goodRoutes)
            directory.write("httpd.json", ReloadableConfigurationTests.http(root: root.path))
            source = try ReloadableConfiguration(stackConfigurationPath: directory.path + "/mtcp.conf",
                                                 httpConfigurationPath: directory.path + "/httpd.json",
                                                 overrides: .init())
        }
    }

    static func headerValue(_ options: HTTPServerOptions) -> String? {
        options.cache.headerRules.first?.fields.first?.value
    }

    @Test func aUsableChangeIsPublishedUnderTheNextGeneration() throws {
        let files = try Files()
        let (root, directory, source) = (files.root, files.directory, files.source)
        #expect(source.current.generation == 0)
        #expect(Self.headerValue(source.current.options) == "one")
        directory.write("httpd.json", Self.http(root: root.path, header: "two"))
        #expect(source.reload() == nil)
        #expect(source.current.generation == 1)
        #expect(Self.headerValue(source.current.options) == "two")
    }

    @Test func aFileThatDoesNotParseIsRefusedWithItsLineAndTheOldOptionsKept() throws {
        let files = try Files()
        let (directory, source) = (files.directory, files.source)
        directory.write("httpd.json", "{\n  \"listen_port\": 80,\n  \"header\": []\n}\n")
        let refusal = try #require(source.reload())
        #expect(refusal.hasPrefix(directory.path + "/httpd.json:3: header: unknown key"), "\(refusal)")
        #expect(source.current.generation == 0)
        #expect(Self.headerValue(source.current.options) == "one")
    }

    @Test func keysOnlyARestartCanChangeAreNamedAndNothingChanges() throws {
        let files = try Files()
        let (root, directory, source) = (files.root, files.directory, files.source)
        directory.write("mtcp.conf", ConfigurationCheckTests.goodStack.replacingOccurrences("198.18.0.1/24", "198.18.0.9/24")
                        + "max_concurrency = 500\n")
        directory.write("httpd.json", Self.http(root: root.path, port: 8080, header: "two"))
        let refusal = try #require(source.reload())
        let mtcpConf = directory.path + "/mtcp.conf"
        #expect(refusal == "cannot change while running (restart to change them): "
                + "\(mtcpConf): max_concurrency, \(mtcpConf): ip_addr, listen_port")
        #expect(source.current.generation == 0)
        #expect(Self.headerValue(source.current.options) == "one")
    }

    /// The server takes the published options at its next reload: a new
    /// request gets the new header; an open keep-alive connection is served on.
    @Test func theServerServesTheReloadedHeaders() throws {
        let files = try Files()
        let (root, directory, source) = (files.root, files.directory, files.source)
        var network = HTTPTestNetwork(options: source.current.options, configurationSource: source)
        let request = "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        let kept = network.exchange(request)
        #expect(kept.responses().first?.field("x-generation") == "one")

        directory.write("httpd.json", Self.http(root: root.path, header: "two"))
        #expect(source.reload() == nil)
        network.http.reload(&network.server)
        let fresh = network.exchange(request).responses()
        try #require(fresh.count == 1)
        #expect(fresh[0].field("x-generation") == "two")
        #expect(fresh[0].body == root.small)
        #expect(!kept.closed, "open connections are not closed by a reload")
    }

    /// New routes and servers: the kept-alive upstream connection of the old
    /// set is closed, an exchange in flight through the reload finishes (its
    /// server belongs to no pool of the new set), and the new route is served.
    @Test func replacedUpstreamsLetTheExchangeInFlightFinish() throws {
        let files = try Files()
        let (root, directory, source) = (files.root, files.directory, files.source)
        func proxied(_ prefix: String) -> String {
            """
            {"document_root": "\(root.path)", "routes": [{"prefix": "\(prefix)", "upstream": "app"}],
             "upstreams": [{"name": "app", "servers": ["\(HTTPTestNetwork.clientIP):\(ScriptedUpstream.port)"]}]}
            """
        }
        directory.write("httpd.json", proxied("/api/"))
        #expect(source.reload() == nil)
        var network = HTTPTestNetwork(options: source.current.options, configurationSource: source)
        let upstream = network.startUpstream()
        // Half a body: the upstream waits for the rest, the exchange stays open.
        let inFlight = network.open(sending: Array("POST /api/b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab".utf8))
        network.advance(.milliseconds(50))
        // A second upstream connection, parked idle after its response.
        #expect(network.exchange("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        try #require(upstream.connections.count == 2)

        directory.write("httpd.json", proxied("/v2/"))
        #expect(source.reload() == nil)
        network.http.reload(&network.server)
        network.advance(.milliseconds(50))
        #expect(upstream.connections[1].closed, "the idle upstream connection of the old set is closed")
        #expect(!upstream.connections[0].closed, "the exchange in flight goes on")
        inFlight.send("cd")
        network.run { !inFlight.responses().isEmpty }
        #expect(inFlight.responses().map(\.status) == [200])
        network.advance(.milliseconds(50))
        #expect(upstream.connections[0].closed, "not parked: its server is no longer in a pool")

        #expect(network.exchange("GET /api/c HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [404])
        #expect(network.exchange("GET /v2/d HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        #expect(upstream.connections.count == 3)
        #expect(upstream.allRequests.count == 3)
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
