/// Where to send an IP packet: longest-prefix match over a handful of routes
/// (route.conf plus the interface's own subnets), kept sorted longest first so the
/// first match wins. Tables here hold a few entries, so a linear scan beats a trie.
/// One per family: `RoutingTable` (IPv4) and `IPv6RoutingTable`.
public struct IPRoutingTable<Network: RoutableNetwork>: Sendable {
    public typealias Address = Network.Address

    public struct Route: Sendable, Equatable {
        public var network: Network
        /// The next hop for destinations in `network`; nil for a directly connected network.
        public var gateway: Address?

        public init(network: Network, gateway: Address? = nil) {
            self.network = network
            self.gateway = gateway
        }
    }

    public private(set) var routes: [Route] = []

    public init(routes: [Route] = []) {
        for route in routes { add(route) }
    }

    /// Adds a route; a route for the same network replaces the old one.
    public mutating func add(_ route: Route) {
        let normalised = Route(network: Network(address: route.network.networkAddress,
                                                prefixLength: route.network.prefixLength),
                               gateway: route.gateway)
        routes.removeAll { $0.network == normalised.network }
        let position = routes.firstIndex { $0.network.prefixLength < normalised.network.prefixLength } ?? routes.endIndex
        routes.insert(normalised, at: position)
    }

    /// The address to resolve with ARP for `destination`: the gateway of the
    /// longest matching route, or the destination itself on a connected network.
    /// Nil when no route matches.
    @inline(__always)
    public func nextHop(for destination: Address) -> Address? {
        for route in routes where route.network.contains(destination) {
            return route.gateway ?? destination
        }
        return nil
    }

    /// True when `address` is on a directly connected network (its longest
    /// matching route has no gateway): only such hosts can be our neighbours.
    public func isDirectlyConnected(_ address: Address) -> Bool {
        for route in routes where route.network.contains(address) {
            return route.gateway == nil
        }
        return false
    }
}

public typealias RoutingTable = IPRoutingTable<IPv4Network>
public typealias IPv6RoutingTable = IPRoutingTable<IPv6Network>

/// What a routing table needs of a network of its family.
public protocol RoutableNetwork: Hashable, Sendable {
    associatedtype Address: Hashable, Sendable
    init(address: Address, prefixLength: Int)
    var prefixLength: Int { get }
    var networkAddress: Address { get }
    func contains(_ address: Address) -> Bool
}

extension IPv4Network: RoutableNetwork {}
extension IPv6Network: RoutableNetwork {}
