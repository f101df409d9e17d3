/// The fields of an Ethernet II header as a plain value, to build frames from and to
/// compare in tests.
public struct EthernetRepr: Hashable, Sendable {
    public var source: MACAddress
    public var destination: MACAddress
    public var etherType: EtherType

    public init(source: MACAddress, destination: MACAddress, etherType: EtherType) {
        self.source = source
        self.destination = destination
        self.etherType = etherType
    }

    /// Bytes `emit` writes.
    public static let headerLength = EthernetFrame.headerLength

    /// Reads the header of a checked frame. It cannot fail: every field value is
    /// representable, and the length was checked when the view was made.
    public static func parse(_ frame: EthernetFrame) -> EthernetRepr {
        EthernetRepr(source: frame.source, destination: frame.destination, etherType: frame.etherType)
    }

    /// Writes the 14-byte header at the start of `frame`; the caller writes the payload.
    public func emit(into frame: EthernetFrame) {
        precondition(frame.bytes.count >= Self.headerLength, "buffer too small for an Ethernet header")
        frame.destination = destination
        frame.source = source
        frame.etherType = etherType
    }
}
