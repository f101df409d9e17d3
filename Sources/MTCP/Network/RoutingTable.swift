/// Where to send an IPv4 packet: longest-prefix match over a handful of routes
/// (route.conf plus the interface's own subnet), kept sorted longest first so the
/// first match wins. Tables here hold a few entries, so a linear scan beats a trie.
public struct RoutingTable: Sendable {
    public struct Route: Sendable, Equatable {
        public var network: IPv4Network
        /// The next hop for destinations in `network`; nil for a directly connected network.
        public var gateway: IPv4Address?

        public init(network: IPv4Network, gateway: IPv4Address? = nil) {
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
        let normalised = Route(network: IPv4Network(address: route.network.networkAddress,
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
    public func nextHop(for destination: IPv4Address) -> IPv4Address? {
        for route in routes where route.network.contains(destination) {
            return route.gateway ?? destination
        }
        return nil
    }

    /// True when `address` is on a directly connected network (its longest
    /// matching route has no gateway): only such hosts can be our neighbours.
    public func isDirectlyConnected(_ address: IPv4Address) -> Bool {
        for route in routes where route.network.contains(address) {
            return route.gateway == nil
        }
        return false
    }
}
