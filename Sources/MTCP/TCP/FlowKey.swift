/// What the flow table keys on: a connection's tuple in its family's compact
/// form. `FlowTable` is generic over it, so the IPv4 table keeps 20-byte
/// entries and two-word hashing whatever IPv6 needs.
public protocol FlowKey: Equatable {
    /// The key of an empty slot (never compared: slots have an occupied flag).
    static var blank: Self { get }
    /// The key hashed by the table's keyed hash (`SipHash.tableHash`).
    func hash(with hasher: SipHash) -> UInt64
}

/// An IPv4 flow: 12 bytes of fields.
public struct IPv4FlowKey: FlowKey, Hashable, Sendable {
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

    /// The key of an IPv4 tuple.
    @inlinable
    public init(_ tuple: FourTuple) {
        self.init(localAddress: tuple.localAddress.v4, localPort: tuple.localPort,
                  remoteAddress: tuple.remoteAddress.v4, remotePort: tuple.remotePort)
    }

    public static var blank: IPv4FlowKey { IPv4FlowKey(localAddress: .any, localPort: 0, remoteAddress: .any, remotePort: 0) }

    @inline(__always)
    public func hash(with hasher: SipHash) -> UInt64 {
        hasher.tableHash(UInt64(localAddress.value) << 32 | UInt64(remoteAddress.value),
                         UInt64(localPort) << 16 | UInt64(remotePort))
    }
}

/// An IPv6 flow: 36 bytes of fields.
public struct IPv6FlowKey: FlowKey, Hashable, Sendable {
    public var localAddress: IPv6Address
    public var remoteAddress: IPv6Address
    public var localPort: UInt16
    public var remotePort: UInt16

    @inlinable
    public init(_ tuple: FourTuple) {
        localAddress = tuple.localAddress.v6
        remoteAddress = tuple.remoteAddress.v6
        localPort = tuple.localPort
        remotePort = tuple.remotePort
    }

    public static var blank: IPv6FlowKey {
        IPv6FlowKey(FourTuple(localAddress: IPAddress(IPv6Address.unspecified), localPort: 0,
                              remoteAddress: IPAddress(IPv6Address.unspecified), remotePort: 0))
    }

    @inline(__always)
    public func hash(with hasher: SipHash) -> UInt64 {
        hasher.tableHash(localAddress.high, localAddress.low, remoteAddress.high, remoteAddress.low,
                         UInt64(localPort) << 16 | UInt64(remotePort))
    }
}
