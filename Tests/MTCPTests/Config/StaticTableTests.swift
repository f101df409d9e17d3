import Testing
import MTCP
@testable import MTCPConfig

private func arpError(_ text: String) -> ConfigurationError? {
    do {
        _ = try StaticARPTable.parse(text: text, file: "arp.conf")
        return nil
    } catch {
        return error
    }
}

private func routeError(_ text: String) -> ConfigurationError? {
    do {
        _ = try StaticRouteTable.parse(text: text, file: "route.conf")
        return nil
    } catch {
        return error
    }
}

@Suite struct StaticARPTableTests {
    @Test func parsesEntriesWithCommentsAnywhere() throws {
        let table = try StaticARPTable.parse(text: """
            # static neighbours
            ARP_ENTRY 2   # two of them

            198.18.0.2/32 02:00:00:00:00:02
              # between entries
            \t198.18.0.3   02-00-00-00-00-03\t
            """, file: "arp.conf")
        #expect(table.file == "arp.conf")
        #expect(table.entries == [
            StaticARPEntry(address: IPv4Address(198, 18, 0, 2), mac: MACAddress(0x02, 0, 0, 0, 0, 0x02)),
            StaticARPEntry(address: IPv4Address(198, 18, 0, 3), mac: MACAddress(0x02, 0, 0, 0, 0, 0x03)),
        ])
        #expect(table.entries[0].description == "198.18.0.2/32 02:00:00:00:00:02")
    }

    @Test func zeroEntries() throws {
        #expect(try StaticARPTable.parse(text: "ARP_ENTRY 0\n", file: "arp.conf").entries.isEmpty)
    }

    @Test func missingHeader() throws {
        let empty = try #require(arpError("# nothing but comments\n\n"))
        #expect(empty == ConfigurationError(file: "arp.conf", key: "ARP_ENTRY", message: "missing header 'ARP_ENTRY <n>'"))
        let entryFirst = try #require(arpError("\n198.18.0.2/32 02:00:00:00:00:02\nARP_ENTRY 1\n"))
        #expect(entryFirst.line == 2)
        #expect(entryFirst.message.contains("expected the header 'ARP_ENTRY <n>' before the first entry"))
    }

    @Test(arguments: ["ARP_ENTRY", "ARP_ENTRY -1", "ARP_ENTRY two", "ARP_ENTRY 1 2", "ARP_ENTRY +1"])
    func badHeader(header: String) throws {
        let error = try #require(arpError("# c\n\(header)\n"))
        #expect(error.line == 2)
        #expect(error.key == "ARP_ENTRY")
        #expect(error.message.contains("expected 'ARP_ENTRY <n>' with n >= 0"))
    }

    @Test func duplicateHeader() throws {
        let error = try #require(arpError("ARP_ENTRY 0\nARP_ENTRY 0\n"))
        #expect(error.line == 2)
        #expect(error.message == "duplicate header (first on line 1)")
    }

    @Test func countMismatchNamesTheHeaderLine() throws {
        let tooFew = try #require(arpError("# c\n\nARP_ENTRY 2\n198.18.0.2/32 02:00:00:00:00:02\n"))
        #expect(tooFew == ConfigurationError(file: "arp.conf", line: 3, key: "ARP_ENTRY",
                                             message: "declares 2 entries but 1 follow"))
        let tooMany = try #require(arpError("ARP_ENTRY 0\n198.18.0.2/32 02:00:00:00:00:02\n"))
        #expect(tooMany.line == 1)
        #expect(tooMany.message == "declares 0 entries but 1 follow")
    }

    @Test(arguments: [
        ("198.18.0.256/32 02:00:00:00:00:02", "expected a unicast IPv4 address"),
        ("198.18.0.2/33 02:00:00:00:00:02", "expected a unicast IPv4 address"),
        ("255.255.255.255/32 02:00:00:00:00:02", "expected a unicast IPv4 address"),
        ("224.0.0.5/32 02:00:00:00:00:02", "expected a unicast IPv4 address"),
        ("198.18.0.0/24 02:00:00:00:00:02", "expected /32"),
        ("198.18.0.2/32 02:00:00:00:00", "expected a unicast MAC address"),
        ("198.18.0.2/32 02:00:00:00:00:zz", "expected a unicast MAC address"),
        ("198.18.0.2/32 01:00:5e:00:00:01", "expected a unicast MAC address"),
        ("198.18.0.2/32 ff:ff:ff:ff:ff:ff", "expected a unicast MAC address"),
        ("198.18.0.2/32 00:00:00:00:00:00", "expected a unicast MAC address"),
        ("198.18.0.2/32", "expected '<ip>/32 <mac>'"),
        ("198.18.0.2/32 02:00:00:00:00:02 extra", "expected '<ip>/32 <mac>'"),
    ])
    func badEntry(entry: String, message: String) throws {
        let error = try #require(arpError("ARP_ENTRY 1\n# c\n\(entry)\n"))
        #expect(error.file == "arp.conf")
        #expect(error.line == 3)
        #expect(error.key == nil)
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func duplicateAddress() throws {
        let error = try #require(arpError("""
            ARP_ENTRY 2
            198.18.0.2/32 02:00:00:00:00:02
            198.18.0.2 02:00:00:00:00:03
            """))
        #expect(error.line == 3)
        #expect(error.message == "duplicate entry for 198.18.0.2 (first on line 2)")
    }
}

@Suite struct StaticRouteTableTests {
    private let stack = StackConfiguration(file: "mtcp.conf", address: IPv4Network("198.18.0.1/24")!, ports: ["dpdk0"])

    @Test func parsesRoutesWithAndWithoutGateway() throws {
        let table = try StaticRouteTable.parse(text: """
            ROUTES 3 # mTCP's two fields, or three with a gateway
            198.18.0.0/24 dpdk0

            0.0.0.0/0   dpdk0   198.18.0.254
            10.1.2.3 dpdk0 198.18.0.9
            """, file: "route.conf")
        #expect(table.routes == [
            StaticRoute(network: IPv4Network("198.18.0.0/24")!, port: "dpdk0"),
            StaticRoute(network: IPv4Network("0.0.0.0/0")!, port: "dpdk0", gateway: IPv4Address(198, 18, 0, 254)),
            StaticRoute(network: IPv4Network("10.1.2.3/32")!, port: "dpdk0", gateway: IPv4Address(198, 18, 0, 9)),
        ])
        #expect(table.routes[1].description == "0.0.0.0/0 dpdk0 198.18.0.254")
        try table.validate(against: stack)
    }

    @Test func headerAndCountRulesAreShared() throws {
        #expect(try #require(routeError("")).message == "missing header 'ROUTES <n>'")
        #expect(try #require(routeError("ARP_ENTRY 0\n")).message.contains("expected the header 'ROUTES <n>'"))
        let mismatch = try #require(routeError("\nROUTES 2\n198.18.0.0/24 dpdk0\n# c\n"))
        #expect(mismatch == ConfigurationError(file: "route.conf", line: 2, key: "ROUTES",
                                               message: "declares 2 entries but 1 follow"))
    }

    @Test(arguments: [
        ("198.18.0.0/24", "expected '<ip>/<prefix> <port> [<gateway-ip>]'"),
        ("198.18.0.0/24 dpdk0 198.18.0.254 x", "expected '<ip>/<prefix> <port> [<gateway-ip>]'"),
        ("198.18.0/24 dpdk0", "expected a network like 198.18.0.0/24"),
        ("198.18.0.1/24 dpdk0", "host bits set in '198.18.0.1/24': did you mean 198.18.0.0/24?"),
        ("198.18.0.0/24 eth0", "expected a port name like dpdk0, found 'eth0'"),
        ("0.0.0.0/0 dpdk0 198.18.0", "expected a unicast gateway address"),
        ("0.0.0.0/0 dpdk0 255.255.255.255", "expected a unicast gateway address"),
    ])
    func badRoute(entry: String, message: String) throws {
        let error = try #require(routeError("ROUTES 1\n\(entry)\n"))
        #expect(error.line == 2)
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func duplicateNetwork() throws {
        let error = try #require(routeError("ROUTES 2\n10.0.0.0/8 dpdk0\n10.0.0.0/8 dpdk0 198.18.0.254\n"))
        #expect(error.line == 3)
        #expect(error.message == "duplicate route for 10.0.0.0/8 (first on line 2)")
    }

    @Test func validateChecksPortsAndGateways() throws {
        let unknownPort = try StaticRouteTable.parse(
            text: "ROUTES 2\n198.18.0.0/24 dpdk0\n# c\n10.0.0.0/8 dpdk1\n", file: "route.conf")
        #expect(throws: ConfigurationError(file: "route.conf", line: 4,
                                           message: "port 'dpdk1' is not configured (port = dpdk0)")) {
            try unknownPort.validate(against: stack)
        }
        let farGateway = try StaticRouteTable.parse(text: "ROUTES 1\n0.0.0.0/0 dpdk0 10.0.0.1\n", file: "route.conf")
        #expect(throws: ConfigurationError(file: "route.conf", line: 2,
                                           message: "gateway 10.0.0.1 is not on the stack's network 198.18.0.1/24")) {
            try farGateway.validate(against: stack)
        }
    }

    @Test func ipv6RoutesAndNeighboursShareTheFiles() throws {
        let table = try StaticRouteTable.parse(text: """
            ROUTES 3
            198.18.0.0/24 dpdk0
            ::/0 dpdk0 fe80::1
            2001:db8::/32 dpdk0 2001:2::254
            """, file: "route.conf")
        #expect(table.routes.count == 1)
        #expect(table.ipv6Routes == [
            StaticIPv6Route(network: IPv6Network("::/0")!, port: "dpdk0", gateway: IPv6Address("fe80::1")),
            StaticIPv6Route(network: IPv6Network("2001:db8::/32")!, port: "dpdk0", gateway: IPv6Address("2001:2::254")),
        ])
        var dualStack = stack
        dualStack.ipv6Addresses = [IPv6Network("2001:2::1/64")!]
        try table.validate(against: dualStack)
        #expect(throws: ConfigurationError(file: "route.conf", line: 4,
                                           message: "gateway 2001:2::254 is neither link-local nor in a prefix of ip6_addr")) {
            try table.validate(against: stack)
        }
        #expect(try #require(routeError("ROUTES 1\n2001:db8::1/32 dpdk0\n")).message
            .contains("host bits set in '2001:db8::1/32': did you mean 2001:db8::/32?"))
        #expect(try #require(routeError("ROUTES 1\n::/0 dpdk0 ff02::1\n")).message.contains("expected a unicast IPv6 gateway"))

        let neighbours = try StaticARPTable.parse(
            text: "ARP_ENTRY 2\n198.18.0.2/32 02:00:00:00:00:02\n2001:2::2/128 02:00:00:00:00:02\n", file: "arp.conf")
        #expect(neighbours.entries.count == 1)
        #expect(neighbours.ipv6Entries.map { $0.address } == [IPv6Address("2001:2::2")!])
        #expect(try #require(arpError("ARP_ENTRY 1\n2001:2::2/64 02:00:00:00:00:02\n")).message
            .contains("expected a unicast IPv6 address like 2001:2::2/128"))
    }
}
