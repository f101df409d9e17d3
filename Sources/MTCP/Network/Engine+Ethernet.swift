/// Ethernet input and the Ethernet header of output.
extension Engine {
    /// Counts a received frame and checks that it is an Ethernet frame for us.
    /// Nil when it was dropped (counted).
    @inline(__always)
    mutating func receiveEthernet(_ buffer: PacketBuffer) -> EthernetFrame? {
        statistics.receivedFrames &+= 1
        statistics.receivedBytes &+= UInt64(buffer.length)
        guard let frame = try? EthernetFrame(checking: buffer.frame) else {
            drop(buffer, .ethernetTruncated)
            return nil
        }
        // Ports run promiscuous (some vdevs need it), so filter here.
        let destination = frame.destination
        guard destination == macAddress || destination.isBroadcast || ipv6.acceptsMulticast(destination) else {
            drop(buffer, .otherDestinationMAC)
            return nil
        }
        return frame
    }

    /// A buffer holding a frame of `length` bytes (IPv4 and IPv6 output alike),
    /// or nil, counted, when none is free or the frame does not fit one.
    @inline(__always)
    mutating func allocateFrame(length: Int) -> PacketBuffer? {
        guard var buffer = device.allocate() else {
            statistics.drops.count(.bufferExhausted)
            return nil
        }
        guard length <= buffer.capacity else {
            statistics.drops.count(.frameTooLong)
            device.release(buffer)
            return nil
        }
        buffer.length = length
        return buffer
    }

    /// Writes the Ethernet header of an outgoing frame.
    @inline(__always)
    func writeEthernetHeader(_ buffer: PacketBuffer, to destination: MACAddress, type: EtherType) {
        EthernetRepr(source: macAddress, destination: destination, etherType: type)
            .emit(into: EthernetFrame(unchecked: buffer.frame))
    }
}
