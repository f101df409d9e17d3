/// The exception path (F-Stack's and mTCP's answer to a kernel that lost its
/// NIC to DPDK): a second device whose other end is a kernel interface (a
/// `net_tap` or virtio-user port). Frames the stack would otherwise drop as not
/// its business go there, and what the kernel sends there leaves by the port,
/// so SSH, BGP, DHCP and monitoring keep working beside the stack.
///
/// Frames are copied between the two devices: their buffers come from different
/// pools, and the copy is paid only by traffic the stack does not serve.
public struct ExceptionPath<Device: PacketDevice> {
    /// The engine's end of the kernel interface (one queue of it per core).
    public var device: Device
    public let kept: KernelTraffic
    /// `kept.protocols`, tested without hashing per frame.
    private let keptProtocols: ProtocolMap

    public init(device: consuming Device, kept: KernelTraffic = KernelTraffic()) {
        self.device = device
        self.kept = kept
        var map = ProtocolMap()
        for ipProtocol in kept.protocols where ipProtocol != .tcp { map.insert(ipProtocol) }
        keptProtocols = map
    }

    /// Whether the kernel keeps `ipProtocol` although the stack could serve it.
    @inline(__always)
    func keeps(_ ipProtocol: IPProtocol) -> Bool { keptProtocols.contains(ipProtocol) }

    /// Copies `frame` into a buffer of `target`; nil when the target has none
    /// free or the frame does not fit it.
    static func copy<Target: PacketDevice>(_ frame: UnsafeMutableRawBufferPointer,
                                           into target: inout Target) -> PacketBuffer? {
        guard var copy = target.allocate() else { return nil }
        guard frame.count <= copy.capacity else {
            target.release(copy)
            return nil
        }
        copy.bytes.copyMemory(from: frame.baseAddress!, byteCount: frame.count)
        copy.length = frame.count
        return copy
    }
}

/// A set of IP protocols as 256 bits: membership is a shift and a mask.
struct ProtocolMap {
    private var words = InlineArray<4, UInt64>(repeating: 0)

    mutating func insert(_ ipProtocol: IPProtocol) {
        words[Int(ipProtocol.rawValue >> 6)] |= UInt64(1) << UInt64(ipProtocol.rawValue & 63)
    }

    @inline(__always)
    func contains(_ ipProtocol: IPProtocol) -> Bool {
        words[Int(ipProtocol.rawValue >> 6)] >> UInt64(ipProtocol.rawValue & 63) & 1 == 1
    }
}
