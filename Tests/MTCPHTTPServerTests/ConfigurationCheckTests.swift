import Glibc
import Testing
@testable import MTCPHTTPServer

/// `--check-config`: every file is read and every problem is reported with its
/// file and line, one problem per broken file, the others still checked.
@Suite struct ConfigurationCheckTests {
    static let goodStack = """
        io = dpdk
        num_cores = 1
        port = dpdk0
        ip_addr = 198.18.0.1/24
        vdev = net_af_packet0,iface=mtcp-a0
        hugepages = no

        """
    static let goodRoutes = "ROUTES 1\n198.18.0.0/24 dpdk0\n"

    static func goodHTTP(root: String, certificate: String = TestCertificate.files.certificate,
                         key: String = TestCertificate.files.key) -> String {
        """
        {
            "document_root": "\(root)",
            "tls": {
                "certificate": "\(certificate)",
                "private_key": "\(key)"
            }
        }
        """
    }

    @Test func aUsableConfigurationHasNoProblems() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write("route.conf", Self.goodRoutes)
        directory.write("httpd.json", Self.goodHTTP(root: directory.path))
        #expect(directory.check().problems() == [])
    }

    @Test func everyBrokenFileIsReportedWithItsLine() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack + "arp_conf = static.arp\n")
        directory.write("static.arp", "ARP_ENTRY 1\n198.18.0.2/32 not-a-mac\n")
        directory.write("route.conf", "ROUTES 2\n198.18.0.0/24 dpdk0\n")
        directory.write("httpd.json", "{\n  \"listen_port\": 80,\n  \"limits\": {\n    \"max_body_byte\": 5\n  }\n}\n")
        let problems = directory.check().problems()
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.hasPrefix(directory.path + "/static.arp:2: ") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix(directory.path + "/route.conf:1: 'ROUTES': declares 2 entries") },
                "\(problems)")
        #expect(problems.contains { $0.hasPrefix(directory.path + "/httpd.json:4: limits.max_body_byte: unknown key") },
                "\(problems)")
    }

    @Test func anUnknownKeyOfMtcpConfIsReportedAndHTTPIsStillChecked() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack + "num_core = 2\n")
        directory.write("httpd.json", "{\"server_name\": \"\"}")
        let problems = directory.check().problems()
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.first?.hasPrefix(directory.path + "/mtcp.conf:7: 'num_core'") == true, "\(problems)")
        #expect(problems.last?.hasPrefix(directory.path + "/httpd.json:1: server_name: ") == true, "\(problems)")
    }

    @Test func aMissingDocumentRootAndCertificateAreNamedWithTheirKeys() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write("httpd.json", Self.goodHTTP(root: directory.path + "/absent",
                                                    certificate: directory.path + "/absent.crt"))
        let problems = directory.check().problems()
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.first?.hasPrefix(directory.path + "/httpd.json:2: document_root: cannot open ") == true,
                "\(problems)")
        #expect(problems.last?.hasPrefix(directory.path + "/httpd.json:4: tls.certificate: cannot load") == true,
                "\(problems)")
    }

    @Test func aKeyThatDoesNotMatchTheCertificateIsAProblem() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write("other.key", Self.unrelatedKey())
        directory.write("httpd.json", Self.goodHTTP(root: directory.path, key: directory.path + "/other.key"))
        let problems = directory.check().problems()
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.hasPrefix(directory.path + "/httpd.json:5: tls.private_key: ") == true, "\(problems)")
    }

    /// An upstream pool's CA file or client certificate that cannot be loaded
    /// is named at its key, with its line.
    @Test func anUpstreamPoolsTLSFilesAreChecked() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write("httpd.json", """
            {
                "document_root": "\(directory.path)",
                "upstreams": [{"name": "a", "servers": ["198.18.0.2:8443"], "tls": true},
                              {"name": "b", "servers": ["198.18.0.2:8444"],
                               "tls": {"ca_file": "\(directory.path)/absent.pem"}},
                              {"name": "c", "servers": ["198.18.0.2:8445"],
                               "tls": {"certificate": "\(TestCertificate.files.certificate)",
                                       "private_key": "\(directory.path)/absent.key"}}]
            }
            """)
        let problems = directory.check().problems()
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.first?.hasPrefix(directory.path + "/httpd.json:5: upstreams[1].tls.ca_file: cannot load") == true,
                "\(problems)")
        #expect(problems.last?.hasPrefix(directory.path + "/httpd.json:8: upstreams[2].tls.private_key: cannot load") == true,
                "\(problems)")
    }

    @Test func anErrorPageMustBeAFileOfTheRoot() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write("404.html", "gone")
        directory.write("httpd.json", "{\"document_root\": \"\(directory.path)\",\n \"error_pages\": {\n"
                        + "  \"404\": \"/404.html\",\n  \"500\": \"/50x.html\"}}")
        #expect(directory.check().problems() == [
            "\(directory.path)/httpd.json:4: error_pages.500: error page for 500: /50x.html is not a file of the "
                + "document root \(directory.path) (dot files and paths leaving the root never are)",
        ])
    }

    /// Start-up never serves dot files nor anything outside the root: the check
    /// must not accept them as error pages although they exist.
    @Test func anErrorPageStartUpWouldNotServeIsAProblem() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write(".hidden.html", "hidden")
        let outside = ConfigurationDirectory()
        outside.write("outside.html", "outside")
        let outsideName = outside.path.split(separator: "/").last!
        for page in ["/.hidden.html", "/../\(outsideName)/outside.html"] {
            directory.write("httpd.json", "{\"document_root\": \"\(directory.path)\",\n"
                            + " \"error_pages\": {\"404\": \"\(page)\"}}")
            #expect(directory.check().problems() == [
                "\(directory.path)/httpd.json:2: error_pages.404: error page for 404: \(page) is not a file of the "
                    + "document root \(directory.path) (dot files and paths leaving the root never are)",
            ])
        }
    }

    @Test func anErrorPageLargerThanMaxFileBytesIsAProblem() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write("404.html", String(repeating: "x", count: 2048))
        directory.write("httpd.json", "{\"document_root\": \"\(directory.path)\",\n \"cache\": {\"max_file_bytes\": 1024},\n"
                        + " \"error_pages\": {\"404\": \"/404.html\"}}")
        #expect(directory.check().problems() == [
            "\(directory.path)/httpd.json:3: error_pages.404: error page for 404: /404.html is larger than the cache "
                + "holds in memory (cache.max_file_bytes, cache.max_bytes)",
        ])
    }

    @Test func aRootGivenOnTheCommandLineIsChecked() {
        let directory = ConfigurationDirectory()
        directory.write("mtcp.conf", Self.goodStack)
        directory.write("httpd.json", "{}")
        var check = directory.check()
        check.documentRootOverride = directory.path + "/absent"
        #expect(check.problems() == ["--root \(directory.path)/absent: No such file or directory"])
    }

    /// A P-256 key that belongs to no certificate of these tests.
    static func unrelatedKey() -> String {
        """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6s0l3vUK1RmP5afy
        gpTb8XoR2PEI/R8UIrrueLSoJ4qhRANCAATPHihWgh7C2TCaCW1AzOUGO7AUz+Lj
        58M5zk7VC8vfC7yJEpGnkBzPkf8/7pnu9lRnck3qKfgSZZmfAhuxu8li
        -----END PRIVATE KEY-----

        """
    }
}

/// A temporary directory of configuration files, removed with what was written to it.
final class ConfigurationDirectory {
    let path: String
    private var names: [String] = []

    init() {
        var template = Array("/tmp/mtcp-check-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        path = String(cString: made)
    }

    deinit {
        for name in names { unlink(path + "/" + name) }
        rmdir(path)
    }

    func write(_ name: String, _ text: String) {
        names.append(name)
        let descriptor = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(descriptor >= 0, "cannot create \(name)")
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { precondition(Glibc.write(descriptor, $0.baseAddress, $0.count) == $0.count) }
        close(descriptor)
    }

    func check() -> ConfigurationCheck {
        ConfigurationCheck(stackConfigurationPath: path + "/mtcp.conf", httpConfigurationPath: path + "/httpd.json")
    }
}
