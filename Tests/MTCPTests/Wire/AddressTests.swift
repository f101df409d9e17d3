import Testing
@testable import MTCP

@Suite struct AddressTests {
    @Test func parsesDottedQuad() {
        #expect(IPv4Address("198.18.0.1") == IPv4Address(198, 18, 0, 1))
        #expect(IPv4Address("198.18.0.1")?.description == "198.18.0.1")
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", " 1.2.3.4", "a.b.c.d", "1.2.3.-4"] {
            #expect(IPv4Address(bad) == nil, "accepted \(bad)")
        }
    }

    @Test func parsesNetworks() throws {
        let network = try #require(IPv4Network("198.18.0.1/24"))
        #expect(network.networkAddress == IPv4Address(198, 18, 0, 0))
        #expect(network.directedBroadcast == IPv4Address(198, 18, 0, 255))
        #expect(network.contains(IPv4Address(198, 18, 0, 200)))
        #expect(!network.contains(IPv4Address(198, 18, 1, 1)))
        #expect(IPv4Network("10.0.0.1")?.prefixLength == 32)
        #expect(IPv4Network("0.0.0.0/0")?.contains(IPv4Address(8, 8, 8, 8)) == true)
        for bad in ["10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "10.0.0.1/2/3", "x/24"] {
            #expect(IPv4Network(bad) == nil, "accepted \(bad)")
        }
    }

    @Test func parsesAndPrintsMAC() throws {
        let mac = try #require(MACAddress("02:00:00:aa:BB:0c"))
        #expect(mac == MACAddress(0x02, 0, 0, 0xAA, 0xBB, 0x0C))
        #expect(mac.description == "02:00:00:aa:bb:0c")
        #expect(!mac.isMulticast)
        #expect(MACAddress.broadcast.isMulticast)
        var bytes = [UInt8](repeating: 0, count: 6)
        bytes.withUnsafeMutableBytes { mac.store(to: $0.baseAddress!) }
        #expect(bytes == [0x02, 0, 0, 0xAA, 0xBB, 0x0C])
        #expect(bytes.withUnsafeBytes { MACAddress(loadingFrom: $0.baseAddress!) } == mac)
        for bad in ["", "02:00:00:aa:bb", "02:00:00:aa:bb:0c:00", "02:00:00:aa:bb:zz", "2:0:0:a:b:c", "02:00:00:00:00:+2", "02:00:00:00:00:-2"] {
            #expect(MACAddress(bad) == nil, "accepted \(bad)")
        }
    }
}
