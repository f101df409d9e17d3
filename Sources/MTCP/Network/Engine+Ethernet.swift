/// Ethernet input: the first demultiplexing step of every received frame.
extension Engine {
    @inline(__always)
    mutating func receive(_ buffer: PacketBuffer, now: Instant) {
        statistics.receivedFrames &+= 1
        statistics.receivedBytes &+= UInt64(buffer.length)
        guard let frame = try? EthernetFrame(checking: buffer.frame) else {
            return drop(buffer, .ethernetTruncated)
        }
        // Ports run promiscuous (some vdevs need it), so filter here.
        let destination = frame.destination
        guard destination == macAddress || destination.isBroadcast else {
            return drop(buffer, .otherDestinationMAC)
        }
        switch frame.etherType {
        case .ipv4: receiveIPv4(buffer, frame, now: now)
        case .arp: receiveARP(buffer, frame, now: now)
        default: drop(buffer, .unsupportedEtherType)
        }
    }

    /// Writes the Ethernet header of an outgoing frame.
    @inline(__always)
    func writeEthernetHeader(_ buffer: PacketBuffer, to destination: MACAddress, type: EtherType) {
        EthernetRepr(source: macAddress, destination: destination, etherType: type)
            .emit(into: EthernetFrame(unchecked: buffer.frame))
    }
}
