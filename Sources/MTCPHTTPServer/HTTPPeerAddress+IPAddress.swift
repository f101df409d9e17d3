import MTCP
import MTCPHTTP

extension HTTPPeerAddress {
    /// The HTTP layer's form of a stack address (both hold IPv4 mapped into IPv6).
    init(_ address: IPAddress) { self.init(ipv6High: address.v6.high, low: address.v6.low) }
}

extension IPAddress {
    /// The stack's form of an address from the HTTP configuration.
    init(_ peer: HTTPPeerAddress) { self.init(IPv6Address(high: peer.high, low: peer.low)) }
}

extension HTTPServerOptions {
    /// Whether `client`'s X-Forwarded-For is extended rather than replaced.
    func trusts(_ client: IPAddress) -> Bool { trustedProxies.contains(client) }
}
