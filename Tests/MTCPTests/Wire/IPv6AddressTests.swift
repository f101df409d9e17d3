import Testing
@testable import MTCP

@Suite struct IPv6AddressTests {
    @Test func parsesTheTextFormsOfRFC4291() {
        #expect(IPv6Address("2001:2::1") == IPv6Address(high: 0x2001_0002_0000_0000, low: 1))
        #expect(IPv6Address("::") == .unspecified)
        #expect(IPv6Address("::1")?.isLoopback == true)
        #expect(IPv6Address("fe80::") == IPv6Address(high: 0xFE80_0000_0000_0000, low: 0))
        #expect(IPv6Address("1:2:3:4:5:6:7:8") == IPv6Address(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0008))
        #expect(IPv6Address("::ffff:198.18.0.1") == IPv6Address(high: 0, low: 0xFFFF_C612_0001))
        #expect(IPv6Address("2001:DB8::5") == IPv6Address(high: 0x2001_0DB8_0000_0000, low: 5))
    }

    @Test func refusesMalformedText() {
        for text in ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", ":1::",
                     "1::2:", "1:2:3:4:5:6:7::8", "+1::", "1.2.3.4", "::1.2.3", "fe80::1%eth0", "::1.2.3.4:5"] {
            #expect(IPv6Address(text) == nil, "\(text)")
        }
    }

    @Test func printsRFC5952CanonicalText() {
        #expect(IPv6Address("2001:0002:0000:0000:0000:0000:0000:0001")!.description == "2001:2::1")
        #expect(IPv6Address("2001:db8:0:0:1:0:0:1")!.description == "2001:db8::1:0:0:1")
        #expect(IPv6Address("2001:db8:0:1:1:1:1:1")!.description == "2001:db8:0:1:1:1:1:1")
        #expect(IPv6Address.unspecified.description == "::")
        #expect(IPv6Address("fe80::")!.description == "fe80::")
    }

    @Test func derivesTheLinkLocalAddressAndGroupsFromTheMAC() {
        let linkLocal = IPv6Address.linkLocal(from: MACAddress(0x02_00_00_00_00_01))
        #expect(linkLocal == IPv6Address("fe80::ff:fe00:1"))
        #expect(linkLocal.isLinkLocal)
        #expect(IPv6Address.linkLocal(from: MACAddress("52:54:00:12:34:56")!) == IPv6Address("fe80::5054:ff:fe12:3456"))
        #expect(IPv6Address("2001:2::1")!.solicitedNode == IPv6Address("ff02::1:ff00:1"))
        #expect(IPv6Address("ff02::1:ff00:1")!.multicastMAC == MACAddress("33:33:ff:00:00:01"))
    }

    @Test func networksMatchTheirPrefix() {
        let network = IPv6Network("2001:2::1/48")!
        #expect(network.contains(IPv6Address("2001:2:0:ffff::9")!))
        #expect(!network.contains(IPv6Address("2001:3::1")!))
        #expect(IPv6Network("2001:2::1/128")!.contains(IPv6Address("2001:2::1")!))
        #expect(!IPv6Network("2001:2::1/127")!.contains(IPv6Address("2001:2::2")!))
        #expect(IPv6Network("::/0")!.contains(IPv6Address("2001:2::2")!))
        #expect(IPv6Network("2001:2::1/129") == nil)
    }

    @Test func dualAddressesKeepTheFamiliesApart() {
        let v4 = IPAddress(IPv4Address(198, 18, 0, 1))
        #expect(v4.isIPv4 && v4.v4 == IPv4Address(198, 18, 0, 1) && v4.description == "198.18.0.1")
        let v6 = IPAddress("2001:2::1")!
        #expect(!v6.isIPv4 && v6.description == "2001:2::1")
        #expect(IPAddress("198.18.0.1") == v4)
    }
}
