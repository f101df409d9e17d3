/// The addresses and ports that name a TCP connection, from this host's side:
/// for an arriving segment, local = destination and remote = source.
///
/// 14 bytes of fields (16 with padding); the flow table keys on it.
public struct FourTuple: Hashable, Sendable, CustomStringConvertible {
    public var localAddress: IPv4Address
    public var localPort: UInt16
    public var remoteAddress: IPv4Address
    public var remotePort: UInt16

    @inlinable
    public init(localAddress: IPv4Address, localPort: UInt16, remoteAddress: IPv4Address, remotePort: UInt16) {
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
    }

    public var description: String { "\(localAddress):\(localPort)<->\(remoteAddress):\(remotePort)" }
}

extension FourTuple {
    /// The tuple as two words for keyed hashing.
    @inline(__always)
    var packedWords: (UInt64, UInt64) {
        (UInt64(localAddress.value) << 32 | UInt64(remoteAddress.value),
         UInt64(localPort) << 16 | UInt64(remotePort))
    }
}
