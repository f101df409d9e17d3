/// One frame's bytes, lent by a packet device: an mbuf's data room for DPDK, a
/// slot of preallocated memory for the virtual link.
///
/// A plain value with raw pointers, so handing frames around costs no reference
/// counting. Ownership is a protocol: every buffer obtained from `receive` or
/// `allocate` goes back exactly once, through `transmit` or `release`.
public struct PacketBuffer {
    /// The device's own token for the buffer (an `rte_mbuf *`, a slot address).
    public var handle: UnsafeMutableRawPointer
    /// First byte of the frame (the Ethernet header).
    public var bytes: UnsafeMutableRawPointer
    /// Length of the frame in bytes.
    public var length: Int
    /// How many bytes may be written at `bytes`.
    public var capacity: Int
    /// Checksum results from the receiving hardware, and requests for the sending one.
    public var offload: ChecksumOffload

    @inlinable
    public init(handle: UnsafeMutableRawPointer, bytes: UnsafeMutableRawPointer, length: Int,
                capacity: Int, offload: ChecksumOffload = []) {
        self.handle = handle
        self.bytes = bytes
        self.length = length
        self.capacity = capacity
        self.offload = offload
    }

    /// The frame as a raw buffer, for the wire-format views.
    @inlinable public var frame: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: bytes, count: length)
    }
}

/// Checksum work the NIC did on receive or is asked to do on transmit.
public struct ChecksumOffload: OptionSet, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Receive: the hardware verified the IPv4 header checksum.
    public static let ipv4ChecksumGood = ChecksumOffload(rawValue: 1 << 0)
    /// Receive: the hardware verified the TCP/UDP checksum.
    public static let l4ChecksumGood = ChecksumOffload(rawValue: 1 << 1)
    /// Transmit: fill in the IPv4 header checksum.
    public static let computeIPv4Checksum = ChecksumOffload(rawValue: 1 << 2)
    /// Transmit: fill in the TCP checksum (the field holds the pseudo-header sum).
    public static let computeTCPChecksum = ChecksumOffload(rawValue: 1 << 3)
}
