import Testing
@testable import MTCP

/// The engine's transmit queue keeps what a full device ring leaves, in order,
/// across its wrap-around, and frees what it still holds at shutdown.
@Suite struct TransmitQueueTests {
    /// A device whose ring takes at most `room` frames per offer, and records
    /// the frames it took (by their `length`, used here as a serial number).
    struct BoundedDevice: PacketDevice {
        var room: Int
        var taken: [Int] = []
        var released: [Int] = []
        var offers = 0
        let macAddress = MACAddress(0x02, 0, 0, 0, 0, 1)
        let transmitOffloads: ChecksumOffload = []

        mutating func receive(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int { 0 }
        mutating func allocate() -> PacketBuffer? { nil }
        mutating func transmit(_ buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
            offers += 1
            let took = min(room, buffers.count)
            taken += buffers[0..<took].map(\.length)
            return took
        }
        mutating func release(_ buffer: PacketBuffer) { released.append(buffer.length) }
        func statistics() -> DeviceStatistics { DeviceStatistics() }
    }

    private static func frame(_ serial: Int) -> PacketBuffer {
        PacketBuffer(handle: UnsafeMutableRawPointer(bitPattern: 0x1000)!,
                     bytes: UnsafeMutableRawPointer(bitPattern: 0x1000)!, length: serial, capacity: 0)
    }

    /// A device that takes 3 frames an offer, against a queue of 8 refilled as it
    /// drains: 200 frames leave in the order they came, the queue wrapping many times.
    @Test func framesLeaveInOrderAcrossTheWrap() {
        var queue = TransmitQueue(capacity: 8)
        var device = BoundedDevice(room: 3)
        var next = 0
        while device.taken.count < 200 {
            while next < 200 && queue.append(Self.frame(next)) { next += 1 }
            let before = device.taken.count
            let sent = queue.flush(to: &device)
            #expect(sent == device.taken.count - before)
        }
        #expect(device.taken == Array(0..<200))
        let left = queue.count
        #expect(left == 0)
    }

    /// A queue whose frames wrap is offered in two runs: the device that takes
    /// both whole sends everything in one flush.
    @Test func aWrappedQueueIsOfferedAsTwoRuns() {
        var queue = TransmitQueue(capacity: 4)
        var device = BoundedDevice(room: 3)
        let appended = (0..<4).map { queue.append(Self.frame($0)) }
        #expect(appended == [true, true, true, true])
        let overflow = queue.append(Self.frame(99))
        #expect(!overflow, "a full queue refuses")
        let first = queue.flush(to: &device)
        #expect(first == 3)
        let refilled = (4..<7).map { queue.append(Self.frame($0)) }
        #expect(refilled == [true, true, true])
        device.room = 10
        device.offers = 0
        let second = queue.flush(to: &device)
        #expect(second == 4)
        #expect(device.offers == 2)
        #expect(device.taken == Array(0..<7))
    }

    /// A device that takes nothing leaves the queue marked refused, and
    /// discarding gives back every held frame, the wrapped ones too.
    @Test func aRefusingDeviceKeepsTheFramesAndDiscardFreesThemAll() {
        var queue = TransmitQueue(capacity: 4)
        var device = BoundedDevice(room: 2)
        for serial in 0..<4 { _ = queue.append(Self.frame(serial)) }
        _ = queue.flush(to: &device)
        for serial in 4..<6 { _ = queue.append(Self.frame(serial)) }
        device.room = 0
        let sent = queue.flush(to: &device)
        let held = (queue.isRefused, queue.count)
        #expect(sent == 0 && held == (true, 4))
        queue.discard(to: &device)
        #expect(device.released == [2, 3, 4, 5])
        let after = (queue.isRefused, queue.count)
        #expect(after == (false, 0))
    }
}
