/// The seam between the stack and packet I/O: one receive/transmit queue pair of
/// a port, used by exactly one engine (one core).
///
/// The shape follows DPDK's burst API so the DPDK device is a thin wrapper and the
/// engine is generic over the device (specialised, no existential on the path).
public protocol PacketDevice {
    /// The port's Ethernet address.
    var macAddress: MACAddress { get }

    /// Checksum offloads this queue performs; the stack computes the rest in software.
    var transmitOffloads: ChecksumOffload { get }

    /// Receives up to `buffers.count` frames into `buffers`, returning how many.
    mutating func receive(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int

    /// An empty buffer for a frame to send, or nil when the pool is exhausted.
    mutating func allocate() -> PacketBuffer?

    /// Offers `buffers` for transmission and returns how many the device took,
    /// always a prefix. The rest still belong to the caller (retry or release).
    mutating func transmit(_ buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int

    /// Returns a buffer that will not be transmitted.
    mutating func release(_ buffer: PacketBuffer)

    /// Device-level counters, read off the data path.
    func statistics() -> DeviceStatistics
}

/// Counters kept by a device (the NIC's own for DPDK ports).
public struct DeviceStatistics: Sendable, Equatable {
    public var receivedPackets: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    public var transmittedPackets: UInt64 = 0
    public var transmittedBytes: UInt64 = 0
    /// Frames the device dropped on receive (ring full, no buffer).
    public var receiveMissed: UInt64 = 0
    public var receiveErrors: UInt64 = 0
    public var transmitErrors: UInt64 = 0
    /// Allocation failures: the buffer pool was empty.
    public var allocationFailures: UInt64 = 0

    public init() {}
}
