import Testing
import MTCP
@testable import MTCPConfig

/// `exception_path` and its keys, and `vip` (StackConfiguration+Services.swift).
@Suite struct ServiceKeysTests {
    static let required = "ip_addr = 198.18.0.1/24\nport = dpdk0\n"

    static func parse(_ lines: String) throws(ConfigurationError) -> StackConfiguration {
        try StackConfiguration.parse(text: required + lines, file: "/etc/mtcp/mtcp.conf")
    }

    static func error(_ lines: String) -> ConfigurationError? {
        do {
            _ = try parse(lines)
            return nil
        } catch {
            return error
        }
    }

    @Test func offByDefault() throws {
        let configuration = try Self.parse("")
        #expect(!configuration.exceptionPath)
        #expect(configuration.virtualAddresses.isEmpty)
    }

    @Test func everyKeyIsRead() throws {
        let configuration = try Self.parse("""
            exception_path = on
            exception_iface = kern0
            exception_protocols = icmp 47
            exception_tcp_ports = 22 179
            vip = 198.18.1.10
            vip = 198.18.1.11 noarp
            """)
        #expect(configuration.exceptionPath)
        #expect(configuration.exceptionSettings.interfaceName == "kern0")
        #expect(configuration.exceptionSettings.kept.protocols == [.icmp, IPProtocol(rawValue: 47)])
        #expect(configuration.exceptionSettings.kept.tcpPorts == [22, 179])
        #expect(configuration.virtualAddresses == [VirtualAddress(address: IPv4Address(198, 18, 1, 10)),
                                                   VirtualAddress(address: IPv4Address(198, 18, 1, 11),
                                                                  answersARP: false)])
    }

    @Test(arguments: [
        ("exception_path = maybe", 3, "expected one of on, off"),
        ("exception_tcp_ports = 22", 3, "needs exception_path = on"),
        ("exception_path = on\nexception_tcp_ports = 22 0", 4, "expected TCP ports in 1...65535"),
        ("exception_path = on\nexception_protocols = tcp", 4, "TCP is the stack's"),
        ("exception_path = on\nexception_protocols = gre", 4, "expected IP protocols"),
        ("exception_path = on\nexception_iface = a-very-long-interface", 4, "at most 15 characters"),
        ("vip = 198.18.1.10 arp", 3, "optionally followed by noarp"),
        ("vip = 224.0.0.1", 3, "cannot be a host's address"),
        ("vip = 198.18.1.10\nvip = 198.18.1.10 noarp", 4, "already a vip"),
        ("vip = 198.18.0.1", 3, "is ip_addr already"),
    ])
    func refusesWithTheLine(lines: String, line: Int, message: String) {
        let error = Self.error(lines)
        #expect(error?.line == line)
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test func aVIPBeforeIPAddrIsComparedWithIt() {
        do {
            _ = try StackConfiguration.parse(text: "vip = 198.18.0.1\nip_addr = 198.18.0.1/24\nport = dpdk0\n",
                                             file: "mtcp.conf")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 2)
            #expect(error.description.contains("is a vip already"))
        }
    }

    @Test func aReloadThatChangesThemIsRefusedNamingThem() throws {
        let before = try Self.parse("vip = 198.18.1.10")
        let after = try Self.parse("vip = 198.18.1.10 noarp\nexception_path = on")
        #expect(after.keysDiffering(from: before) == ["exception_path", "vip"])
    }
}
