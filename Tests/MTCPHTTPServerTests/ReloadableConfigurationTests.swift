import Glibc
import Foundation
import MTCPHTTP
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
        #expect(source.reload().refusal == nil)
        #expect(source.current.generation == 1)
        #expect(Self.headerValue(source.current.options) == "two")
    }

    @Test func aFileThatDoesNotParseIsRefusedWithItsLineAndTheOldOptionsKept() throws {
        let files = try Files()
        let (directory, source) = (files.directory, files.source)
        directory.write("httpd.json", "{\n  \"listen_port\": 80,\n  \"header\": []\n}\n")
        let refusal = try #require(source.reload().refusal)
        #expect(refusal.hasPrefix(directory.path + "/httpd.json:3: header: unknown key"), "\(refusal)")
        #expect(source.current.generation == 0)
        #expect(Self.headerValue(source.current.options) == "one")
    }

    @Test func keysOnlyARestartCanChangeAreNamed() throws {
        let files = try Files()
        let (root, directory, source) = (files.root, files.directory, files.source)
        directory.write("mtcp.conf", ConfigurationCheckTests.goodStack.replacingOccurrences("198.18.0.1/24", "198.18.0.9/24")
                        + "max_concurrency = 500\n")
        directory.write("httpd.json", Self.http(root: root.path, port: 8080, header: "two"))
        let mtcpConf = directory.path + "/mtcp.conf"
        #expect(source.reload().awaitingRestart == ["\(mtcpConf): ip_addr", "\(mtcpConf): max_concurrency", "listen_port"])
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
        #expect(source.reload().refusal == nil)
        try network.http.reload(&network.server)
        let fresh = network.exchange(request).responses()
        try #require(fresh.count == 1)
        #expect(fresh[0].field("x-generation") == "two")
        #expect(fresh[0].body == root.small)
        #expect(!kept.closed, "open connections are not closed by a reload")
    }

    /// Writes httpd.json routing `prefix` to one pool of the server on `port`,
    /// and publishes it.
    static func route(_ files: Files, _ prefix: String, port: UInt16 = ScriptedUpstream.port) {
        files.directory.write("httpd.json", """
            {"document_root": "\(files.root.path)", "routes": [{"prefix": "\(prefix)", "upstream": "app"}],
             "upstreams": [{"name": "app", "servers": ["\(HTTPTestNetwork.clientIP):\(port)"]}]}
            """)
        #expect(files.source.reload().refusal == nil)
    }

    /// A network whose server runs `/api/` routed to the scripted upstream's port.
    static func proxiedNetwork(_ files: Files) -> HTTPTestNetwork {
        route(files, "/api/")
        return HTTPTestNetwork(options: files.source.current.options, configurationSource: files.source)
    }

    /// Routes `prefix` to the server on `port` and reloads `network`'s server with it.
    static func reroute(_ network: inout HTTPTestNetwork, _ files: Files, _ prefix: String,
                        port: UInt16 = ScriptedUpstream.port) throws {
        route(files, prefix, port: port)
        try network.http.reload(&network.server)
        network.advance(.milliseconds(50))
    }

    /// New servers: the kept-alive upstream connection of the old set is
    /// closed, an exchange in flight through the reload finishes (its server
    /// belongs to no pool of the new set), and the new route is served.
    @Test func replacedUpstreamsLetTheExchangeInFlightFinish() throws {
        let files = try Files()
        var network = Self.proxiedNetwork(files)
        let upstream = network.startUpstream()
        let second = network.startUpstream(port: ScriptedUpstream.port + 1)
        // Half a body: the upstream waits for the rest, the exchange stays open.
        let inFlight = network.open(sending: Array("POST /api/b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab".utf8))
        network.advance(.milliseconds(50))
        // A second upstream connection, parked idle after its response.
        #expect(network.exchange("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        try #require(upstream.connections.count == 2)

        try Self.reroute(&network, files, "/v2/", port: ScriptedUpstream.port + 1)
        #expect(upstream.connections[1].closed, "the idle upstream connection of the old set is closed")
        #expect(!upstream.connections[0].closed, "the exchange in flight goes on")
        inFlight.send("cd")
        network.run { !inFlight.responses().isEmpty }
        #expect(inFlight.responses().map(\.status) == [200])
        network.advance(.milliseconds(50))
        #expect(upstream.connections[0].closed, "not parked: its server is no longer in a pool")

        #expect(network.exchange("GET /api/c HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [404])
        #expect(network.exchange("GET /v2/d HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        #expect(upstream.allRequests.count == 2 && second.allRequests == [
            "GET /v2/d HTTP/1.1\r\nHost: h\r\n" + HTTPProxyTests.added,
        ])
    }

    /// New routes to the same servers: the routes apply at once, and the
    /// servers keep their kept-alive connections (and health).
    @Test func newRoutesKeepTheServersConnections() throws {
        let files = try Files()
        var network = Self.proxiedNetwork(files)
        let upstream = network.startUpstream()
        #expect(network.exchange("GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])

        try Self.reroute(&network, files, "/v2/")
        #expect(network.exchange("GET /api/c HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [404])
        #expect(network.exchange("GET /v2/d HTTP/1.1\r\nHost: h\r\n\r\n").responses().map(\.status) == [200])
        #expect(upstream.connections.count == 1, "the parked connection was reused")
        #expect(upstream.allRequests.count == 2)
    }
}

/// What a reload does with files that change under it, and with a core that
/// cannot take what was published.
@Suite struct ReloadConsistencyTests {
    /// httpd.json rewritten after the reload checked it and before it published:
    /// what was checked is what is published (the file is read once).
    @Test func whatWasCheckedIsPublished() throws {
        let files = try ReloadableConfigurationTests.Files()
        let (root, directory, source) = (files.root, files.directory, files.source)
        directory.write("httpd.json", ReloadableConfigurationTests.http(root: root.path, header: "checked"))
        let outcome = source.reload(beforePublishing: {
            directory.write("httpd.json", ReloadableConfigurationTests.http(root: root.path, header: "rewritten"))
        })
        #expect(outcome.refusal == nil)
        #expect(ReloadableConfigurationTests.headerValue(source.current.options) == "checked")
    }

    /// The certificate replaced by garbage after the reload was published and
    /// before this core took it: the core refuses it with the reason and keeps
    /// running the whole previous configuration (headers too), not half of each.
    @Test func aCoreThatCannotTakeAReloadKeepsTheWholePreviousConfiguration() throws {
        let root = DocumentRoot()
        let directory = ConfigurationDirectory()
        for (name, source) in [("server.crt", TestCertificate.files.certificate), ("server.key", TestCertificate.files.key)] {
            directory.write(name, try String(contentsOfFile: source, encoding: .utf8))
        }
        func http(_ header: String) -> String {
            """
            {"document_root": "\(root.path)", "headers": [{"prefix": "/", "add": {"X-Generation": "\(header)"}}],
             "tls": {"certificate": "\(directory.path)/server.crt", "private_key": "\(directory.path)/server.key"}}
            """
        }
        directory.write("mtcp.conf", ConfigurationCheckTests.goodStack)
        directory.write("route.conf", ConfigurationCheckTests.goodRoutes)
        directory.write("httpd.json", http("one"))
        let source = try ReloadableConfiguration(stackConfigurationPath: directory.path + "/mtcp.conf",
                                                 httpConfigurationPath: directory.path + "/httpd.json",
                                                 overrides: .init())
        var network = HTTPTestNetwork(options: source.current.options, configurationSource: source)
        directory.write("httpd.json", http("two"))
        #expect(source.reload().refusal == nil)
        directory.write("server.crt", "not a certificate\n")
        #expect(throws: (any Error).self) { try try network.http.reload(&network.server) }
        #expect(network.http.optionsGeneration == 0)
        let served = network.exchange("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n").responses()
        #expect(served.first?.field("x-generation") == "one")
    }

    /// A pending mtcp.conf edit and a restart-only httpd.json key do not hold
    /// back the rest: the reloadable parts are published, the restart-only
    /// values stay those in force, and the outcome names what waits for a restart.
    @Test func restartOnlyChangesAreNamedAndTheRestIsApplied() throws {
        let files = try ReloadableConfigurationTests.Files()
        let (root, directory, source) = (files.root, files.directory, files.source)
        directory.write("mtcp.conf", ConfigurationCheckTests.goodStack + "max_concurrency = 500\n")
        directory.write("httpd.json", ReloadableConfigurationTests.http(root: root.path, port: 8080, header: "two"))
        let outcome = source.reload()
        #expect(outcome.refusal == nil)
        #expect(outcome.awaitingRestart == ["\(directory.path)/mtcp.conf: max_concurrency", "listen_port"])
        #expect(source.current.generation == 1)
        #expect(ReloadableConfigurationTests.headerValue(source.current.options) == "two")
        #expect(source.current.options.port == 80, "the listener stays where it is")
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// Every key of httpd.json is either reloadable or restart-only
/// (`RestartOnlySetting`): a key added to the decoder without being classified
/// fails here, so a reload can never silently ignore or half-apply it.
@Suite struct ReloadClassificationTests {
    /// Keys a reload applies (whole objects where every key below them is).
    static let reloadable: Set<String> = [
        "document_root", "log_level", "timeouts", "cache", "headers", "error_pages", "routes", "upstreams", "trusted_proxies",
        "limits.max_header_count", "limits.max_body_bytes", "limits.max_chunk_line", "limits.length_required",
        "tls.certificate", "tls.private_key", "tls.min_protocol", "tls.ciphers", "tls.ciphersuites",
        "tls.session_tickets", "tls.handshake_timeout_ms",
    ]
    /// Objects whose keys are classified one by one.
    static let mixed = ["limits", "tls"]

    /// The keys the decoder knows in the object at `path` ("" for the top),
    /// from its refusal of an unknown key.
    static func knownKeys(at path: String) throws -> [String] {
        let json = path.isEmpty ? #"{"unclassified": 0}"# : #"{"\#(path)": {"unclassified": 0}}"#
        do {
            _ = try HTTPServerConfiguration.decode(Data(json.utf8), file: "httpd.json")
        } catch {
            let list = try #require(error.message.split(separator: "known keys: ").last?.dropLast())
            return list.split(separator: ", ").map(String.init)
        }
        Issue.record("an unknown key was accepted")
        return []
    }

    @Test func everyKeyIsClassifiedOnce() throws {
        var keys = try Self.knownKeys(at: "")
        for object in Self.mixed {
            keys += try Self.knownKeys(at: object).map { object + "." + $0 }
        }
        // A mixed object's own key is classified for its presence (`tls`) or not at all (`limits`).
        let restartOnly = Set(RestartOnlySetting.all.map(\.key))
        #expect(restartOnly.isDisjoint(with: Self.reloadable))
        let unclassified = keys.filter { !restartOnly.contains($0) && !Self.reloadable.contains($0) && $0 != "limits" }
        #expect(unclassified == [])
        #expect(restartOnly.union(Self.reloadable).subtracting(keys) == [], "classified keys the decoder does not know")
    }
}
