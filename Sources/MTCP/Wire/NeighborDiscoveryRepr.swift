/// A Neighbor Solicitation or Advertisement (RFC 4861 §4.3, §4.4) as a plain
/// value: the only Neighbor Discovery messages the stack acts on (it is a host
/// with static routes: router advertisements are not followed).
public struct NeighborDiscoveryRepr: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case solicitation
        /// The R (router), S (solicited) and O (override) flags.
        case advertisement(router: Bool, solicited: Bool, override: Bool)
    }

    public var kind: Kind
    /// The address asked about, or advertised.
    public var target: IPv6Address
    /// The Source (solicitation) or Target (advertisement) Link-Layer Address option.
    public var linkLayerAddress: MACAddress?

    public init(kind: Kind, target: IPv6Address, linkLayerAddress: MACAddress?) {
        self.kind = kind
        self.target = target
        self.linkLayerAddress = linkLayerAddress
    }

    /// Type, code, checksum, flags/reserved word and target.
    static let fixedLength = 24
    /// A link-layer address option for Ethernet: type, length 1 (8 bytes), MAC.
    static let linkLayerOptionLength = 8
    static let sourceLinkLayerOption: UInt8 = 1
    static let targetLinkLayerOption: UInt8 = 2

    public var bufferLength: Int { Self.fixedLength + (linkLayerAddress == nil ? 0 : Self.linkLayerOptionLength) }

    /// Reads a solicitation or advertisement after RFC 4861's validity checks
    /// that concern the message alone (§7.1.1, §7.1.2): code 0, at least 24
    /// bytes, a unicast target, options of non-zero length within the message.
    /// The hop limit (255) and the checksum are checked by the caller.
    public static func parse(_ packet: ICMPPacket) throws(WireError) -> NeighborDiscoveryRepr {
        let bytes = packet.bytes
        guard packet.code == 0 else { throw .unsupportedMessage }
        guard bytes.count >= fixedLength else { throw .truncated }
        let target = bytes.ipv6Address(at: 8)
        guard !target.isMulticast else { throw .badOperation }
        let kind: Kind
        let wantedOption: UInt8
        switch packet.icmpv6Type {
        case .neighborSolicitation:
            kind = .solicitation
            wantedOption = sourceLinkLayerOption
        case .neighborAdvertisement:
            let flags = bytes[4]
            kind = .advertisement(router: flags & 0x80 != 0, solicited: flags & 0x40 != 0, override: flags & 0x20 != 0)
            wantedOption = targetLinkLayerOption
        default:
            throw .unsupportedMessage
        }
        var linkLayerAddress: MACAddress?
        var position = fixedLength
        while position < bytes.count {
            guard position + 2 <= bytes.count else { throw .malformedOption }
            let length = Int(bytes[position + 1]) * 8
            guard length > 0, position + length <= bytes.count else { throw .malformedOption }
            if bytes[position] == wantedOption && length == linkLayerOptionLength {
                linkLayerAddress = bytes.macAddress(at: position + 2)
            }
            position += length
        }
        return NeighborDiscoveryRepr(kind: kind, target: target, linkLayerAddress: linkLayerAddress)
    }

    /// Writes the message; the caller fills the checksum (it needs the addresses).
    public func emit(into packet: ICMPPacket) {
        let bytes = packet.bytes
        packet.code = 0
        packet.checksum = 0
        bytes.storeBigEndian(UInt32(0), at: 4)
        let option: UInt8
        switch kind {
        case .solicitation:
            packet.icmpv6Type = .neighborSolicitation
            option = Self.sourceLinkLayerOption
        case .advertisement(let router, let solicited, let override):
            packet.icmpv6Type = .neighborAdvertisement
            bytes[4] = (router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override ? 0x20 : 0)
            option = Self.targetLinkLayerOption
        }
        bytes.storeIPv6Address(target, at: 8)
        if let linkLayerAddress {
            bytes[Self.fixedLength] = option
            bytes[Self.fixedLength + 1] = 1
            bytes.storeMACAddress(linkLayerAddress, at: Self.fixedLength + 2)
        }
    }
}
