/// A zero-copy view of an Ethernet II frame: destination, source, EtherType, payload.
///
/// The view borrows the bytes (an mbuf's data room); it neither owns nor copies them,
/// and must not outlive them. Accessors convert from network byte order; setters
/// write through to the buffer. The frame check sequence is the NIC's business and is
/// not part of the buffer.
public struct EthernetFrame {
    /// Size of the header: two addresses and the EtherType.
    public static let headerLength = 14

    /// The frame, header first.
    public let bytes: UnsafeMutableRawBufferPointer

    /// Wraps `bytes` after checking that the header fits, so no accessor can read
    /// outside the buffer. Any EtherType is accepted, VLAN tags included: the caller
    /// dispatches on `etherType` and drops what it does not speak.
    @inlinable
    public init(checking bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        self.bytes = bytes
    }

    /// Wraps `bytes` unchecked, to write a new frame into; the buffer must hold at
    /// least `headerLength` bytes.
    @inlinable
    public init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    @inlinable public var destination: MACAddress {
        get { bytes.macAddress(at: 0) }
        nonmutating set { bytes.storeMACAddress(newValue, at: 0) }
    }

    @inlinable public var source: MACAddress {
        get { bytes.macAddress(at: 6) }
        nonmutating set { bytes.storeMACAddress(newValue, at: 6) }
    }

    @inlinable public var etherType: EtherType {
        get { EtherType(rawValue: bytes.bigEndian(at: 12)) }
        nonmutating set { bytes.storeBigEndian(newValue.rawValue, at: 12) }
    }

    /// Everything after the header, including any padding the sender added to reach
    /// the 60-byte minimum frame; the payload's own length field says where it ends.
    @inlinable public var payload: UnsafeMutableRawBufferPointer {
        bytes.clampedSlice(from: Self.headerLength, to: bytes.count)
    }
}
