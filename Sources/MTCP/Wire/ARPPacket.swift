/// A zero-copy view of an ARP packet for IPv4 over Ethernet (RFC 826).
///
/// Only that combination exists on our links, so the checked view admits nothing
/// else and its address accessors have fixed sizes and offsets: hardware type 1,
/// protocol type 0x0800, address lengths 6 and 4, operation request or reply.
public struct ARPPacket {
    /// Size of an IPv4-over-Ethernet ARP packet; Ethernet padding may follow it.
    public static let length = 28
    /// The hardware type of Ethernet.
    public static let ethernetHardware: UInt16 = 1

    /// The packet, from the hardware type on.
    public let bytes: UnsafeMutableRawBufferPointer

    /// Wraps `bytes` after checking the length, the address space (Ethernet and IPv4,
    /// with their address lengths) and the operation.
    @inlinable
    public init(checking bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.length else { throw .truncated }
        self.bytes = bytes
        guard hardwareType == Self.ethernetHardware, hardwareLength == 6 else { throw .unsupportedHardware }
        guard protocolType == .ipv4, protocolLength == 4 else { throw .unsupportedProtocol }
        guard operation == .request || operation == .reply else { throw .badOperation }
    }

    /// Wraps `bytes` unchecked, to write a new packet into; the buffer must hold at
    /// least `length` bytes.
    @inlinable
    public init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable public var hardwareType: UInt16 {
        get { bytes.bigEndian(at: 0) }
        nonmutating set { bytes.storeBigEndian(newValue, at: 0) }
    }

    @inlinable public var protocolType: EtherType {
        get { EtherType(rawValue: bytes.bigEndian(at: 2)) }
        nonmutating set { bytes.storeBigEndian(newValue.rawValue, at: 2) }
    }

    @inlinable public var hardwareLength: UInt8 {
        get { bytes[4] }
        nonmutating set { bytes[4] = newValue }
    }

    @inlinable public var protocolLength: UInt8 {
        get { bytes[5] }
        nonmutating set { bytes[5] = newValue }
    }

    @inlinable public var operation: ARPOperation {
        get { ARPOperation(rawValue: bytes.bigEndian(at: 6)) }
        nonmutating set { bytes.storeBigEndian(newValue.rawValue, at: 6) }
    }

    @inlinable public var senderHardwareAddress: MACAddress {
        get { bytes.macAddress(at: 8) }
        nonmutating set { bytes.storeMACAddress(newValue, at: 8) }
    }

    @inlinable public var senderProtocolAddress: IPv4Address {
        get { bytes.ipv4Address(at: 14) }
        nonmutating set { bytes.storeIPv4Address(newValue, at: 14) }
    }

    @inlinable public var targetHardwareAddress: MACAddress {
        get { bytes.macAddress(at: 18) }
        nonmutating set { bytes.storeMACAddress(newValue, at: 18) }
    }

    @inlinable public var targetProtocolAddress: IPv4Address {
        get { bytes.ipv4Address(at: 24) }
        nonmutating set { bytes.storeIPv4Address(newValue, at: 24) }
    }
}
