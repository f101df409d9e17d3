/// Frames built during one engine iteration, sent in one burst at its end.
///
/// Bounded and allocated once. Frames the device does not take (its ring is
/// full) stay queued for the next iteration; a frame that finds the queue itself
/// full is released and counted, so a stalled device cannot make memory grow.
///
/// A ring: what the device leaves stays where it is and the next flush starts
/// there. (Moving the unsent tail to the front instead cost a copy of the whole
/// backlog per iteration: with 10,000 connections the load generator's queue
/// stayed thousands of frames deep behind a full memif ring, and that copy was
/// a seventh of its core.)
public struct TransmitQueue: ~Copyable {
    private let frames: UnsafeMutableBufferPointer<PacketBuffer>
    /// Ring index of the oldest queued frame.
    private var head = 0
    public private(set) var count = 0
    /// Whether the device took none of the frames last offered to it: a memif
    /// port whose peer is absent, a port whose link is not up yet (the start-up
    /// announcements are queued before it is). The frames stay queued and are
    /// offered again on every flush, but waiting for such a device is no work
    /// that polling would speed up (`Engine.hasPendingOutput`). Only true while
    /// frames are queued.
    public private(set) var isRefused = false

    public init(capacity: Int) {
        precondition(capacity > 0, "a transmit queue needs room for a frame")
        frames = .allocate(capacity: capacity)
    }

    deinit { frames.deallocate() }

    /// Whether another frame fits: TCP output asks before it builds a segment,
    /// which then waits on its output list instead of being dropped here.
    @inline(__always) public var hasRoom: Bool { count < frames.count }

    /// Queues `buffer`; false when full (the caller still owns the buffer).
    @inline(__always)
    public mutating func append(_ buffer: PacketBuffer) -> Bool {
        guard hasRoom else { return false }
        frames[wrap(head + count)] = buffer
        count += 1
        return true
    }

    /// Offers every queued frame to `device`, oldest first; returns how many it took.
    @inline(__always)
    public mutating func flush<Device: PacketDevice>(to device: inout Device) -> Int {
        guard count > 0 else { return 0 }
        // Up to two contiguous runs: from the head to the end of the storage, then
        // from its start; the second is offered only if the device took all of the first.
        let firstRun = min(count, frames.count - head)
        var sent = device.transmit(UnsafeMutableBufferPointer(rebasing: frames[head..<head + firstRun]))
        if sent == firstRun && firstRun < count {
            sent += device.transmit(UnsafeMutableBufferPointer(rebasing: frames[0..<count - firstRun]))
        }
        isRefused = sent == 0
        count -= sent
        // An emptied queue starts again at index 0, so the next burst is one run.
        head = count == 0 ? 0 : wrap(head + sent)
        return sent
    }

    /// Gives every queued frame back to `device` (shutdown).
    public mutating func discard<Device: PacketDevice>(to device: inout Device) {
        for offset in 0..<count { device.release(frames[wrap(head + offset)]) }
        head = 0
        count = 0
        isRefused = false
    }

    /// `index` reduced into the storage, for an `index` below twice its size.
    @inline(__always)
    private func wrap(_ index: Int) -> Int {
        index >= frames.count ? index - frames.count : index
    }
}
