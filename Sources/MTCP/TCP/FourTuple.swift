/// The addresses and ports that name a TCP connection, from this host's side:
/// for an arriving segment, local = destination and remote = source.
///
/// The addresses hold either family (`IPAddress`); the flow tables key on the
/// compact per-family forms (`IPv4FlowKey`, `IPv6FlowKey`), so an IPv4 flow's
/// table entry is no bigger for IPv6 being possible.
public struct FourTuple: Hashable, Sendable, CustomStringConvertible {
    public var localAddress: IPAddress
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16

    @inlinable
    public init(localAddress: IPAddress, localPort: UInt16, remoteAddress: IPAddress, remotePort: UInt16) {
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
    }

    @inlinable
    public init(localAddress: IPv4Address, localPort: UInt16, remoteAddress: IPv4Address, remotePort: UInt16) {
        self.init(localAddress: IPAddress(localAddress), localPort: localPort,
                  remoteAddress: IPAddress(remoteAddress), remotePort: remotePort)
    }

    /// Both ends are IPv4 (a tuple never mixes families).
    @inlinable public var isIPv4: Bool { remoteAddress.isIPv4 }

    public var description: String {
        isIPv4 ? "\(localAddress):\(localPort)<->\(remoteAddress):\(remotePort)"
            : "[\(localAddress)]:\(localPort)<->[\(remoteAddress)]:\(remotePort)"
    }
}

extension FourTuple {
    /// The tuple as two words for hashing keyed by `secret` (initial sequence
    /// numbers, SYN cookies, port choice): the addresses and the ports. An IPv4
    /// tuple's addresses fit one word as they are; an IPv6 tuple's 256 bits of
    /// address are condensed by `secret` itself first, so the words stay a keyed
    /// function of every bit (an XOR fold would let a peer pick colliding
    /// addresses, and reuse one address's cookie from another).
    @inline(__always)
    func packedWords(_ secret: SipHash) -> (addresses: UInt64, ports: UInt64) {
        let ports = UInt64(localPort) << 16 | UInt64(remotePort)
        guard isIPv4 else {
            return (secret.hash(localAddress.v6.high, localAddress.v6.low, remoteAddress.v6.high, remoteAddress.v6.low),
                    ports)
        }
        return (UInt64(localAddress.v4.value) << 32 | UInt64(remoteAddress.v4.value), ports)
    }
}
