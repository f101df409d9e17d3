/// Frames built during one engine iteration, sent in one burst at its end.
///
/// Bounded and allocated once. Frames the device does not take (its ring is
/// full) stay queued for the next iteration; a frame that finds the queue itself
/// full is released and counted, so a stalled device cannot make memory grow.
public struct TransmitQueue: ~Copyable {
    private let frames: UnsafeMutableBufferPointer<PacketBuffer>
    public private(set) var count = 0
    /// Whether the device took none of the frames last offered to it: a memif
    /// port whose peer is absent, a port whose link is not up yet (the start-up
    /// announcements are queued before it is). The frames stay queued and are
    /// offered again on every flush, but waiting for such a device is no work
    /// that polling would speed up (`Engine.hasPendingOutput`). Only true while
    /// frames are queued.
    public private(set) var isRefused = false

    public init(capacity: Int) {
        frames = .allocate(capacity: capacity)
    }

    deinit { frames.deallocate() }

    /// Queues `buffer`; false when full (the caller still owns the buffer).
    @inline(__always)
    public mutating func append(_ buffer: PacketBuffer) -> Bool {
        guard count < frames.count else { return false }
        frames[count] = buffer
        count += 1
        return true
    }

    /// Offers every queued frame to `device`; returns how many it took.
    @inline(__always)
    public mutating func flush<Device: PacketDevice>(to device: inout Device) -> Int {
        guard count > 0 else { return 0 }
        let sent = device.transmit(UnsafeMutableBufferPointer(rebasing: frames[0..<count]))
        isRefused = sent == 0
        if sent < count {
            // Keep the unsent tail, in order, at the front.
            for index in sent..<count { frames[index - sent] = frames[index] }
        }
        count -= sent
        return sent
    }

    /// Gives every queued frame back to `device` (shutdown).
    public mutating func discard<Device: PacketDevice>(to device: inout Device) {
        for index in 0..<count { device.release(frames[index]) }
        count = 0
        isRefused = false
    }
}
