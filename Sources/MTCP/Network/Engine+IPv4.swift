/// IPv4 input validation (RFC 791, RFC 1122 §3.2.1) and output through routing
/// and ARP. The stack is a host: it neither forwards nor reassembles.
extension Engine {
    mutating func receiveIPv4(_ buffer: PacketBuffer, _ frame: EthernetFrame, now: Instant) {
        let packet: IPv4Packet
        do {
            packet = try IPv4Packet(checking: frame.payload)
        } catch {
            return drop(buffer, Self.dropReason(for: error))
        }
        guard buffer.offload.contains(.ipv4ChecksumGood) || packet.verifyChecksum() else {
            return drop(buffer, .ipv4BadChecksum)
        }
        let destination = packet.destination
        guard destination == address.address else {
            let isBroadcast = destination.isBroadcast || destination == address.directedBroadcast
            return drop(buffer, isBroadcast ? .ipv4Broadcast : .ipv4OtherDestination)
        }
        guard isAcceptableSource(packet.source) else { return drop(buffer, .ipv4BadSource) }
        // Peers negotiate an MSS that fits the link, so fragments are rare, and
        // reassembly is a memory-exhaustion target: they are counted and dropped.
        guard !packet.isFragment else { return drop(buffer, .ipv4Fragment) }

        switch packet.protocol {
        case .tcp: receiveTCP(buffer, packet, now: now)
        case .icmp: receiveICMP(buffer, frame, packet, now: now)
        default: drop(buffer, .ipv4UnsupportedProtocol)
        }
    }

    /// RFC 1122 §3.2.1.3: a source must name one host; never ours, a broadcast,
    /// a multicast group, "this host" or loopback.
    @inline(__always)
    private func isAcceptableSource(_ source: IPv4Address) -> Bool {
        !(source == address.address || source.isBroadcast || source.isMulticast || source.isUnspecified
            || source.isLoopback || source == address.directedBroadcast)
    }

    private static func dropReason(for error: WireError) -> DropReason {
        switch error {
        case .badVersion: .ipv4BadVersion
        case .badHeaderLength: .ipv4BadHeaderLength
        case .badTotalLength: .ipv4BadTotalLength
        default: .ipv4Truncated
        }
    }

    /// Sends an IPv4 packet already written after the Ethernet header of `buffer`
    /// (the Ethernet header itself is filled here), routing it to its next hop and
    /// resolving that with ARP. The buffer is consumed: sent, queued for ARP, or
    /// dropped and counted.
    mutating func sendIPv4(_ buffer: PacketBuffer, to destination: IPv4Address, now: Instant) {
        guard let nextHop = routing.nextHop(for: destination) else {
            statistics.drops.count(.noRoute)
            return device.release(buffer)
        }
        let (mac, probe) = neighbours.resolve(nextHop, now: now)
        if let mac {
            writeEthernetHeader(buffer, to: mac, type: .ipv4)
            transmit(buffer)
            if probe { sendARPRequest(for: nextHop) }
            return
        }
        writeEthernetHeader(buffer, to: .broadcast, type: .ipv4)
        switch pendingResolution.enqueue(buffer, nextHop: nextHop, now: now) {
        case nil:
            statistics.drops.count(.arpQueueFull)
            device.release(buffer)
        case true?:
            sendARPRequest(for: nextHop)
        case false?:
            break
        }
    }
}
