/// What an engine needs to know about its IPv6 network. With no address the
/// engine is IPv4 only and drops IPv6 frames as an unsupported EtherType.
public struct IPv6Configuration: Sendable {
    /// The stack's global addresses with their on-link prefixes (mtcp.conf
    /// `ip6_addr`). The link-local address is derived from the MAC and added.
    public var addresses: [IPv6Network]
    /// Routes beyond the connected prefixes (route.conf), usually via a
    /// link-local or global gateway.
    public var routes: [IPv6RoutingTable.Route]
    /// Permanent neighbour cache entries (arp.conf with IPv6 addresses).
    public var staticNeighbours: [StaticNeighbour]
    /// The cache the engines of one port share (`EngineConfiguration.shareNeighbourTable`).
    public var neighbourTable: NDTableStorage?
    /// Run duplicate address detection (RFC 4862 §5.4) at start: one
    /// solicitation per address, and an address is not used until no answer came
    /// for `duplicateAddressDetectionTime` (RetransTimer, 1 s).
    public var detectsDuplicates: Bool

    public struct StaticNeighbour: Sendable, Equatable {
        public var address: IPv6Address
        public var mac: MACAddress
        public init(address: IPv6Address, mac: MACAddress) {
            self.address = address
            self.mac = mac
        }
    }

    public init(addresses: [IPv6Network] = [], routes: [IPv6RoutingTable.Route] = [],
                staticNeighbours: [StaticNeighbour] = [], detectsDuplicates: Bool = true) {
        self.addresses = addresses
        self.routes = routes
        self.staticNeighbours = staticNeighbours
        self.detectsDuplicates = detectsDuplicates
    }

    public var isEnabled: Bool { !addresses.isEmpty }
}
