/// What an engine needs to know about its network, independent of the
/// configuration files it came from.
public struct EngineConfiguration: Sendable {
    /// The stack's address and the prefix of its directly connected network.
    public var address: IPv4Network
    /// Addresses served besides `address`, e.g. the service address of replicas.
    public var virtualAddresses: [VirtualAddress] = []
    /// Routes beyond the connected network (route.conf).
    public var routes: [RoutingTable.Route]
    /// Permanent neighbour entries (arp.conf).
    public var staticNeighbours: [StaticNeighbour]
    /// Frames taken from the device per receive call (mTCP used 32-64).
    public var burstSize: Int
    public var arpCacheCapacity: Int
    /// The neighbour table the engines built from this configuration share
    /// (`shareNeighbourTable`); nil: each engine makes its own.
    public var neighbourTable: ARPTableStorage?
    /// Frames that may wait for address resolution at once.
    public var arpQueueCapacity: Int
    /// Frames that may be queued for transmission within one iteration.
    public var transmitQueueCapacity: Int
    /// The line rate this engine's output is shaped to (`TransmitShaper`); 0: none.
    public var transmitRateMbps: UInt64
    public var tcp: TCPConfiguration
    /// Keys initial sequence numbers, timestamp offsets, ephemeral ports and SYN
    /// cookies; the runtime takes the boot's (`BootSecret`), tests fix it.
    public var secret: SipHash
    /// Where RFC 6056's `next_ephemeral` starts: the runtime draws it at random,
    /// so that processes sharing the boot's key do not all take the same ports
    /// (a restarted client would otherwise meet the connections its predecessor
    /// left open at the peer).
    public var ephemeralPortStart: UInt32 = 0
    /// This engine's core (its queue pair), 0..<cores.
    public var core: Int
    /// How the port spreads received flows over the cores' queues.
    public var spreading: FlowSpreading
    /// The rings to the other cores of this process, where `spreading` is
    /// `.unpredictable`: a segment of a flow another core owns is handed to it.
    public var forwarding: ForwardingMesh?
    /// The IPv6 side of a dual-stack engine (none by default: IPv4 only).
    public var ipv6 = IPv6Configuration()

    /// Makes one neighbour table, holding the static entries, for every engine
    /// built from this configuration from now on: the cores of one port, which
    /// must all resolve what any of them learns.
    public mutating func shareNeighbourTable() {
        neighbourTable = ARPTableStorage(capacity: arpCacheCapacity, staticNeighbours: staticNeighbours)
        ipv6.neighbourTable = NDTableStorage(capacity: arpCacheCapacity, staticNeighbours: ipv6.staticNeighbours)
    }

    public struct StaticNeighbour: Sendable, Equatable {
        public var address: IPv4Address
        public var mac: MACAddress
        public init(address: IPv4Address, mac: MACAddress) {
            self.address = address
            self.mac = mac
        }
    }

    public init(address: IPv4Network, routes: [RoutingTable.Route] = [], staticNeighbours: [StaticNeighbour] = [],
                burstSize: Int = 32, arpCacheCapacity: Int = 1024, arpQueueCapacity: Int = 64,
                transmitQueueCapacity: Int = 4096, transmitRateMbps: UInt64 = 0, tcp: TCPConfiguration = TCPConfiguration(),
                secret: SipHash = SipHash(key0: 0x6D74_6370, key1: 0x7377_6966), core: Int = 0,
                spreading: FlowSpreading = .paired, forwarding: ForwardingMesh? = nil) {
        self.address = address
        self.routes = routes
        self.staticNeighbours = staticNeighbours
        self.burstSize = burstSize
        self.arpCacheCapacity = arpCacheCapacity
        self.arpQueueCapacity = arpQueueCapacity
        self.transmitQueueCapacity = transmitQueueCapacity
        self.transmitRateMbps = transmitRateMbps
        self.tcp = tcp
        self.secret = secret
        self.core = core
        self.spreading = spreading
        self.forwarding = forwarding
    }
}
