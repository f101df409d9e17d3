/// An IPv4-over-Ethernet ARP packet as a plain value: what the ARP layer reads from
/// requests and replies and builds its own from.
public struct ARPRepr: Hashable, Sendable {
    public var operation: ARPOperation
    public var senderHardwareAddress: MACAddress
    public var senderProtocolAddress: IPv4Address
    public var targetHardwareAddress: MACAddress
    public var targetProtocolAddress: IPv4Address

    public init(operation: ARPOperation,
                senderHardwareAddress: MACAddress, senderProtocolAddress: IPv4Address,
                targetHardwareAddress: MACAddress, targetProtocolAddress: IPv4Address) {
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress
        self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress
        self.targetProtocolAddress = targetProtocolAddress
    }

    /// Bytes `emit` writes.
    public static let bufferLength = ARPPacket.length

    /// Reads a checked packet. It cannot fail: the checked view has already refused
    /// every packet this representation cannot describe.
    public static func parse(_ packet: ARPPacket) -> ARPRepr {
        ARPRepr(operation: packet.operation,
                senderHardwareAddress: packet.senderHardwareAddress,
                senderProtocolAddress: packet.senderProtocolAddress,
                targetHardwareAddress: packet.targetHardwareAddress,
                targetProtocolAddress: packet.targetProtocolAddress)
    }

    /// Writes the whole 28-byte packet, fixed fields included.
    public func emit(into packet: ARPPacket) {
        precondition(packet.bytes.count >= Self.bufferLength, "buffer too small for an ARP packet")
        packet.hardwareType = ARPPacket.ethernetHardware
        packet.protocolType = .ipv4
        packet.hardwareLength = 6
        packet.protocolLength = 4
        packet.operation = operation
        packet.senderHardwareAddress = senderHardwareAddress
        packet.senderProtocolAddress = senderProtocolAddress
        packet.targetHardwareAddress = targetHardwareAddress
        packet.targetProtocolAddress = targetProtocolAddress
    }
}
