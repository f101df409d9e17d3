import MTCP

/// One static route: packets for `network` leave through `port`, addressed (at the
/// Ethernet level) to `gateway` when there is one, else directly to their destination.
public struct StaticRoute: Hashable, Sendable, CustomStringConvertible {
    public var network: IPv4Network
    public var port: String
    public var gateway: IPv4Address?

    public init(network: IPv4Network, port: String, gateway: IPv4Address? = nil) {
        self.network = network
        self.port = port
        self.gateway = gateway
    }

    public var description: String { "\(network) \(port)" + (gateway.map { " \($0)" } ?? "") }
}

/// The static routes of `route.conf`, in mTCP's format plus an optional gateway:
///
///     ROUTES 2
///     198.18.0.0/24 dpdk0
///     0.0.0.0/0 dpdk0 198.18.0.254
///
/// The header declares how many routes follow. Each route is a network in CIDR form
/// with no host bits set, the name of the port it leaves through and — our addition —
/// an optional third field, the gateway to send through (mTCP only knew directly
/// attached networks). No network appears twice. Whether the ports exist and the
/// gateways are reachable depends on `mtcp.conf`: see `validate(against:)`.
public struct StaticRouteTable: Sendable {
    public static let header = "ROUTES"

    /// The file the routes came from.
    public let file: String
    /// In file order.
    public let routes: [StaticRoute]
    /// The line of each route, for errors found by `validate(against:)`.
    private let lines: [Int]

    /// A table with no routes, standing for a missing default `route.conf`.
    public static func empty(file: String) -> StaticRouteTable { StaticRouteTable(file: file, routes: [], lines: []) }

    public static func load(path: String) throws(ConfigurationError) -> StaticRouteTable {
        try parse(text: ConfigurationFile.read(path), file: path)
    }

    /// Parses the text of a `route.conf`; `file` is only used to name it in errors.
    public static func parse(text: String, file: String) throws(ConfigurationError) -> StaticRouteTable {
        var seen = FirstOccurrences<IPv4Network>()
        var routes: [StaticRoute] = []
        var lines: [Int] = []
        for line in try CountedTable.entryLines(text: text, file: file, header: header) {
            let fields = try line.fields(2...3, form: "<ip>/<prefix> <port> [<gateway-ip>]")
            guard let network = IPv4Network(fields[0]) else {
                throw line.error("expected a network like 198.18.0.0/24, found '\(fields[0])'")
            }
            guard network.address == network.networkAddress else {
                let intended = IPv4Network(address: network.networkAddress, prefixLength: network.prefixLength)
                throw line.error("host bits set in '\(fields[0])': did you mean \(intended)?")
            }
            guard isPortName(fields[1]) else {
                throw line.error("expected a port name like dpdk0, found '\(fields[1])'")
            }
            var gateway: IPv4Address?
            if fields.count == 3 {
                guard let address = IPv4Address(fields[2]), address.isUnicastHost else {
                    throw line.error("expected a unicast gateway address like 198.18.0.254, found '\(fields[2])'")
                }
                gateway = address
            }
            if let first = seen.record(network, line: line.number) {
                throw line.error("duplicate route for \(network) (first on line \(first))")
            }
            routes.append(StaticRoute(network: network, port: String(fields[1]), gateway: gateway))
            lines.append(line.number)
        }
        return StaticRouteTable(file: file, routes: routes, lines: lines)
    }

    /// Checks the routes against the stack's configuration: every route's port must be
    /// one of its ports, and every gateway must lie on the stack's own network
    /// (`ip_addr`), since it is reached by ARP there.
    public func validate(against configuration: StackConfiguration) throws(ConfigurationError) {
        for (route, line) in zip(routes, lines) {
            guard configuration.ports.contains(route.port) else {
                throw ConfigurationError(file: file, line: line, message:
                    "port '\(route.port)' is not configured (port = \(configuration.ports.joined(separator: " ")))")
            }
            if let gateway = route.gateway, !configuration.address.contains(gateway) {
                throw ConfigurationError(file: file, line: line, message:
                    "gateway \(gateway) is not on the stack's network \(configuration.address)")
            }
        }
    }
}
