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
        guard destination == macAddress || destination.isBroadcast else {
            drop(buffer, .otherDestinationMAC)
            return nil
        }
        return frame
    }

    /// Writes the Ethernet header of an outgoing frame.
    @inline(__always)
    func writeEthernetHeader(_ buffer: PacketBuffer, to destination: MACAddress, type: EtherType) {
        EthernetRepr(source: macAddress, destination: destination, etherType: type)
            .emit(into: EthernetFrame(unchecked: buffer.frame))
    }
}
