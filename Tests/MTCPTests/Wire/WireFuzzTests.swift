import Testing
@testable import MTCP

/// Feeds damaged and random frames through the whole receive-side parse chain: every
/// outcome must be a value or a `WireError`, never a trap or an out-of-bounds read.
@Suite struct WireFuzzTests {
    /// Parses a frame as the engine will: Ethernet, then ARP or IPv4, then ICMP or TCP.
    static func parseFrame(_ buffer: UnsafeMutableRawBufferPointer) throws(WireError) {
        let ethernet = try EthernetFrame(checking: buffer)
        switch ethernet.etherType {
        case .arp:
            _ = ARPRepr.parse(try ARPPacket(checking: ethernet.payload))
        case .ipv4:
            let ip = try IPv4Packet(checking: ethernet.payload)
            _ = ip.verifyChecksum()
            _ = ip.options
            _ = try IPv4Repr.parse(ip)
            switch ip.protocol {
            case .icmp:
                let icmp = try ICMPPacket(checking: ip.payload)
                _ = icmp.verifyChecksum()
                _ = try ICMPEchoRepr.parse(icmp)
            case .tcp:
                let tcp = try TCPSegment(checking: ip.payload)
                _ = tcp.verifyChecksum(source: ip.source, destination: ip.destination)
                _ = try TCPRepr.parse(tcp)
            default:
                break
            }
        default:
            break
        }
    }

    static let frames = [RealFrames.syn, RealFrames.data, RealFrames.icmpEchoRequest, RealFrames.arpRequest, RealFrames.reset]

    @Test func everyTruncatedFrameIsRefused() {
        for frame in Self.frames {
            let errors = prefixErrors(of: frame, Self.parseFrame)
            #expect(errors[..<frame.count].allSatisfy { $0 == .truncated })
            #expect(errors[frame.count] == nil)
        }
    }

    @Test func randomDamageNeverTraps() throws {
        var random = SeededGenerator(seed: 791)
        var outcomes = [String: Int]()
        for _ in 0..<3000 {
            var frame = Self.frames.randomElement(using: &random)!
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                frame[Int.random(in: 0..<frame.count, using: &random)] = .random(in: .min ... .max, using: &random)
            }
            frame = Array(frame[..<Int.random(in: 0...frame.count, using: &random)])
                + (0..<Int.random(in: 0...8, using: &random)).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            let outcome = try withPacket(frame) { buffer -> String in
                do throws(WireError) {
                    try Self.parseFrame(buffer)
                    return "accepted"
                } catch {
                    return "\(error)"
                }
            }
            outcomes[outcome, default: 0] += 1
        }
        #expect(outcomes["truncated", default: 0] > 0)
        #expect(outcomes["accepted", default: 0] > 0)
    }
}
