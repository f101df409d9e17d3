import MTCP

/// The keys for traffic beyond the stack's own address and services: the
/// exception path to the kernel and virtual addresses (`vip`).
///
/// - `exception_path`: `on` hands the kernel, through a `net_tap` interface named
///   `exception_iface` (default `mtcp-kernel0`), every frame the stack does not
///   serve; `off` (default) drops them, counted.
/// - `exception_protocols`: IP protocols kept for the kernel although the stack
///   could answer them (`icmp`, or numbers 0...255; never `tcp`).
/// - `exception_tcp_ports`: TCP ports kept for the kernel even with a listener.
/// - `vip` (repeatable): an address served besides `ip_addr`; `vip = ADDRESS noarp`
///   does not answer ARP for it (direct server return).
extension StackConfiguration {
    /// The exception path's settings; used only with `exceptionPath`.
    public struct ExceptionPathSettings: Equatable, Sendable {
        public var interfaceName = "mtcp-kernel0"
        public var kept = KernelTraffic()
    }

    static let serviceRules: [String: Rule] = [
        "exception_path": Rule(comparing: \.exceptionPath) { configuration, value throws(ConfigurationError) in
            configuration.exceptionPath = try value.choice(["on": true, "off": false])
        },
        "exception_iface": Rule(comparing: \.exceptionSettings.interfaceName) { configuration, value throws(ConfigurationError) in
            let name = try value.word("an interface name like mtcp-kernel0")
            // IFNAMSIZ is 16 with the terminating NUL; a comma would end the vdev's argument.
            guard name.utf8.count < 16, !name.contains(","), !name.contains("/") else {
                throw value.error("expected an interface name of at most 15 characters without ',' or '/', "
                    + "found '\(name)'")
            }
            configuration.exceptionSettings.interfaceName = name
        },
        "exception_protocols": Rule(comparing: \.exceptionSettings.kept.protocols) { configuration, value throws(ConfigurationError) in
            configuration.exceptionSettings.kept.protocols = try Set(value.tokens.map { token throws(ConfigurationError) in
                try keptProtocol(token, value)
            })
        },
        "exception_tcp_ports": Rule(comparing: \.exceptionSettings.kept.tcpPorts) { configuration, value throws(ConfigurationError) in
            configuration.exceptionSettings.kept.tcpPorts = try Set(value.tokens.map { token throws(ConfigurationError) in
                guard let port = decimalInteger(token), (1...65_535).contains(port) else {
                    throw value.error("expected TCP ports in 1...65535, found '\(token)'")
                }
                return UInt16(port)
            })
        },
        "vip": Rule(repeatable: true, comparing: \.virtualAddresses) { configuration, value throws(ConfigurationError) in
            configuration.virtualAddresses.append(try virtualAddress(of: value, configuration))
        },
    ]

    private static func keptProtocol(_ token: Substring, _ value: ConfigurationValue) throws(ConfigurationError)
        -> IPProtocol {
        let names: [Substring: IPProtocol] = ["icmp": .icmp, "tcp": .tcp, "udp": .udp]
        guard let ipProtocol = names[token] ?? decimalInteger(token).flatMap({ UInt8(exactly: $0) })
            .map({ IPProtocol(rawValue: $0) }) else {
            throw value.error("expected IP protocols like icmp, udp or 47, found '\(token)'")
        }
        guard ipProtocol != .tcp else {
            throw value.error("TCP is the stack's: keep TCP ports for the kernel with exception_tcp_ports")
        }
        return ipProtocol
    }

    private static func virtualAddress(of value: ConfigurationValue, _ configuration: StackConfiguration)
        throws(ConfigurationError) -> VirtualAddress {
        let tokens = value.tokens
        guard (1...2).contains(tokens.count), tokens.count == 1 || tokens[1] == "noarp",
              let address = IPv4Address(tokens[0]) else {
            throw value.error("expected an address, optionally followed by noarp, like 198.18.1.10 noarp, "
                + "found '\(value.text)'")
        }
        guard address.isUnicastHost else { throw value.error("\(address) cannot be a host's address") }
        guard !configuration.virtualAddresses.contains(where: { $0.address == address }) else {
            throw value.error("\(address) is already a vip")
        }
        guard address != configuration.address.address else { throw value.error("\(address) is ip_addr already") }
        return VirtualAddress(address: address, answersARP: tokens.count == 1)
    }

    /// The exception path's keys mean nothing while it is off: refuse them then,
    /// rather than let an operator believe SSH is kept.
    func checkServices(_ seen: FirstOccurrences<String>) throws(ConfigurationError) {
        if !exceptionPath {
            for key in ["exception_iface", "exception_protocols", "exception_tcp_ports"] {
                guard let line = seen.line(of: key) else { continue }
                throw ConfigurationError(file: file, line: line, key: key, message: "needs exception_path = on")
            }
        }
        // A vip before ip_addr was not compared with it when it was read.
        if virtualAddresses.contains(where: { $0.address == address.address }), let line = seen.line(of: "ip_addr") {
            throw ConfigurationError(file: file, line: line, key: "ip_addr",
                                     message: "\(address.address) is a vip already")
        }
    }
}
