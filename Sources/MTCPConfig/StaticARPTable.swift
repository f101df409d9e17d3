import MTCP

/// One static ARP entry: `address` is always reached at `mac`, without asking.
public struct StaticARPEntry: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var mac: MACAddress

    public init(address: IPv4Address, mac: MACAddress) {
        self.address = address
        self.mac = mac
    }

    public var description: String { "\(address)/32 \(mac)" }
}

/// The static ARP entries of `arp.conf`, in mTCP's format:
///
///     ARP_ENTRY 2
///     198.18.0.2/32 02:00:00:00:00:02
///     198.18.0.3/32 02:00:00:00:00:03
///
/// The header declares how many entries follow; each entry is one host (mTCP writes
/// `/32`; the prefix may be left out, any other prefix is an error) and a unicast MAC
/// address. Dynamic ARP resolves everything else; a static entry wins over a learnt one.
public struct StaticARPTable: Sendable {
    public static let header = "ARP_ENTRY"

    /// The file the entries came from.
    public let file: String
    /// In file order; no address appears twice.
    public let entries: [StaticARPEntry]
    /// Static IPv6 neighbours, written `2001:2::2/128 02:00:c6:12:00:02` in the
    /// same file (Neighbor Discovery cannot override them either).
    public private(set) var ipv6Entries: [(address: IPv6Address, mac: MACAddress)] = []

    /// A table with no entries, standing for a missing default `arp.conf`.
    public static func empty(file: String) -> StaticARPTable { StaticARPTable(file: file, entries: []) }

    public static func load(path: String) throws(ConfigurationError) -> StaticARPTable {
        try parse(text: ConfigurationFile.read(path), file: path)
    }

    /// Parses the text of an `arp.conf`; `file` is only used to name it in errors.
    public static func parse(text: String, file: String) throws(ConfigurationError) -> StaticARPTable {
        var seen = FirstOccurrences<IPv4Address>()
        var seen6 = FirstOccurrences<IPv6Address>()
        var entries: [StaticARPEntry] = []
        var ipv6Entries: [(address: IPv6Address, mac: MACAddress)] = []
        for line in try CountedTable.entryLines(text: text, file: file, header: header) {
            let fields = try line.fields(2...2, form: "<ip>/32 <mac>")
            if fields[0].contains(":") {
                guard let network = IPv6Network(fields[0]), network.prefixLength == 128,
                      !network.address.isMulticast, !network.address.isUnspecified else {
                    throw line.error("expected a unicast IPv6 address like 2001:2::2/128, found '\(fields[0])'")
                }
                let mac = try unicastMAC(fields[1], line)
                if let first = seen6.record(network.address, line: line.number) {
                    throw line.error("duplicate entry for \(network.address) (first on line \(first))")
                }
                ipv6Entries.append((network.address, mac))
                continue
            }
            guard let network = IPv4Network(fields[0]), network.address.isUnicastHost else {
                throw line.error("expected a unicast IPv4 address like 198.18.0.2/32, found '\(fields[0])'")
            }
            guard network.prefixLength == 32 else {
                throw line.error("an ARP entry is for one host: expected /32, found '\(fields[0])'")
            }
            let mac = try unicastMAC(fields[1], line)
            if let first = seen.record(network.address, line: line.number) {
                throw line.error("duplicate entry for \(network.address) (first on line \(first))")
            }
            entries.append(StaticARPEntry(address: network.address, mac: mac))
        }
        var table = StaticARPTable(file: file, entries: entries)
        table.ipv6Entries = ipv6Entries
        return table
    }

    private static func unicastMAC(_ field: Substring, _ line: ConfigurationLine) throws(ConfigurationError) -> MACAddress {
        guard let mac = MACAddress(field), !mac.isMulticast, mac != .zero else {
            throw line.error("expected a unicast MAC address like 02:00:00:00:00:02, found '\(field)'")
        }
        return mac
    }
}
