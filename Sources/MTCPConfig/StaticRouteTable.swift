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
/// IPv6 routes are written the same way (`2001:db8::/32 dpdk0 fe80::1`); their
/// gateway must be link-local or in a prefix of `ip6_addr`.
public struct StaticRouteTable: Sendable {
    public static let header = "ROUTES"

    /// The file the routes came from.
    public let file: String
    /// In file order.
    public let routes: [StaticRoute]
    /// The line of each route, for errors found by `validate(against:)`.
    private let lines: [Int]
    /// The IPv6 routes, in file order, and their lines.
    public private(set) var ipv6Routes: [StaticIPv6Route] = []
    private var ipv6Lines: [Int] = []

    /// A table with no routes, standing for a missing default `route.conf`.
    public static func empty(file: String) -> StaticRouteTable { StaticRouteTable(file: file, routes: [], lines: []) }

    public static func load(path: String) throws(ConfigurationError) -> StaticRouteTable {
        try parse(text: ConfigurationFile.read(path), file: path)
    }

    /// Parses the text of a `route.conf`; `file` is only used to name it in errors.
    public static func parse(text: String, file: String) throws(ConfigurationError) -> StaticRouteTable {
        var seen = FirstOccurrences<IPv4Network>()
        var seen6 = FirstOccurrences<IPv6Network>()
        var routes: [StaticRoute] = []
        var lines: [Int] = []
        var ipv6Routes: [StaticIPv6Route] = [], ipv6Lines: [Int] = []
        for line in try CountedTable.entryLines(text: text, file: file, header: header) {
            let fields = try line.fields(2...3, form: "<ip>/<prefix> <port> [<gateway-ip>]")
            if fields[0].contains(":") {
                let route = try ipv6Route(fields, line)
                if let first = seen6.record(route.network, line: line.number) {
                    throw line.error("duplicate route for \(route.network) (first on line \(first))")
                }
                ipv6Routes.append(route)
                ipv6Lines.append(line.number)
                continue
            }
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
        var table = StaticRouteTable(file: file, routes: routes, lines: lines)
        table.ipv6Routes = ipv6Routes
        table.ipv6Lines = ipv6Lines
        return table
    }

    private static func ipv6Route(_ fields: [Substring], _ line: ConfigurationLine) throws(ConfigurationError)
        -> StaticIPv6Route {
        guard let network = IPv6Network(fields[0]) else {
            throw line.error("expected a network like 2001:db8::/32, found '\(fields[0])'")
        }
        guard network.address == network.networkAddress else {
            let intended = IPv6Network(address: network.networkAddress, prefixLength: network.prefixLength)
            throw line.error("host bits set in '\(fields[0])': did you mean \(intended)?")
        }
        guard isPortName(fields[1]) else { throw line.error("expected a port name like dpdk0, found '\(fields[1])'") }
        var gateway: IPv6Address?
        if fields.count == 3 {
            guard let address = IPv6Address(fields[2]), !address.isMulticast, !address.isUnspecified,
                  !address.isLoopback else {
                throw line.error("expected a unicast IPv6 gateway like fe80::1, found '\(fields[2])'")
            }
            gateway = address
        }
        return StaticIPv6Route(network: network, port: String(fields[1]), gateway: gateway)
    }

    /// Checks the routes against the stack's configuration: every route's port must be
    /// one of its ports, and every gateway must lie on the stack's own network
    /// (`ip_addr`), since it is reached by ARP there.
    public func validate(against configuration: StackConfiguration) throws(ConfigurationError) {
        for (route, line) in zip(routes, lines) {
            try checkPort(route.port, line: line, configuration)
            if let gateway = route.gateway, !configuration.address.contains(gateway) {
                throw ConfigurationError(file: file, line: line, message:
                    "gateway \(gateway) is not on the stack's network \(configuration.address)")
            }
        }
        for (route, line) in zip(ipv6Routes, ipv6Lines) {
            try checkPort(route.port, line: line, configuration)
            if let gateway = route.gateway, !gateway.isLinkLocal,
               !configuration.ipv6Addresses.contains(where: { $0.contains(gateway) }) {
                throw ConfigurationError(file: file, line: line, message:
                    "gateway \(gateway) is neither link-local nor in a prefix of ip6_addr")
            }
        }
    }

    private func checkPort(_ port: String, line: Int, _ configuration: StackConfiguration) throws(ConfigurationError) {
        guard configuration.ports.contains(port) else {
            throw ConfigurationError(file: file, line: line, message:
                "port '\(port)' is not configured (port = \(configuration.ports.joined(separator: " ")))")
        }
    }
}

/// An IPv6 route of `route.conf`.
public struct StaticIPv6Route: Hashable, Sendable {
    public var network: IPv6Network
    public var port: String
    public var gateway: IPv6Address?
}
