/// Segment sizes by family: `TCPConfiguration.maximumSegmentSize` is IPv4's
/// (the MTU less 40 bytes of headers, 1460 on Ethernet); IPv6's header is 20
/// bytes longer, so its MSS is 20 less (1440 on Ethernet).
extension FourTuple {
    static var ipv6HeaderOverhead: Int { IPv6Packet.headerLength - IPv4Packet.minimumHeaderLength }

    /// The MSS we offer and send at most on this connection.
    @inline(__always)
    func maximumSegmentSize(_ configuration: TCPConfiguration) -> Int {
        isIPv4 ? configuration.maximumSegmentSize : configuration.maximumSegmentSize - Self.ipv6HeaderOverhead
    }

    /// The peer's MSS when its SYN has no MSS option: 536 for IPv4 (RFC 9293
    /// §3.7.1), 1220 for IPv6 (the minimum MTU 1280 less 60, RFC 8200 §8.3).
    @inline(__always)
    var defaultPeerMSS: Int { isIPv4 ? 536 : 1220 }
}
