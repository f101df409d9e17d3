/// IPv4 input validation (RFC 791, RFC 1122 §3.2.1) and output through routing
/// and ARP. The stack is a host: it neither forwards nor reassembles.
extension Engine {
    /// The IPv4 packet of a frame, if it is valid and for this host; nil when it
    /// was dropped (counted). Its protocol is demultiplexed by the engine.
    @inline(__always)
    mutating func receiveIPv4(_ buffer: PacketBuffer, _ frame: EthernetFrame) -> IPv4Packet? {
        let packet: IPv4Packet
        do {
            packet = try IPv4Packet(checking: frame.payload)
        } catch {
            drop(buffer, Self.dropReason(for: error))
            return nil
        }
        guard let reason = rejection(of: packet, buffer) else { return packet }
        switch reason {
        // The kernel side may hold addresses of its own, and listens to broadcasts.
        case .ipv4OtherDestination, .ipv4Broadcast: passToKernel(buffer, otherwise: reason)
        default: drop(buffer, reason)
        }
        return nil
    }

    /// Why a well-formed packet is not for us, or nil when it is.
    @inline(__always)
    private func rejection(of packet: IPv4Packet, _ buffer: PacketBuffer) -> DropReason? {
        guard buffer.offload.contains(.ipv4ChecksumGood) || packet.verifyChecksum() else { return .ipv4BadChecksum }
        let destination = packet.destination
        guard destination == address.address || isVirtualAddress(destination) else {
            let isBroadcast = destination.isBroadcast || destination == address.directedBroadcast
            return isBroadcast ? .ipv4Broadcast : .ipv4OtherDestination
        }
        guard isAcceptableSource(packet.source) else { return .ipv4BadSource }
        // Peers negotiate an MSS that fits the link, so fragments are rare, and
        // reassembly is a memory-exhaustion target: they are counted and dropped.
        guard !packet.isFragment else { return .ipv4Fragment }
        return nil
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

    /// The one way an IP packet of this host leaves, TCP and ICMP alike: takes a
    /// buffer, writes the IPv4 header, lets `writePayload` fill what follows, and
    /// routes it. `offload` names the checksums left to the device (the IPv4
    /// header's is then not computed). False when no buffer was free (counted)
    /// or the packet does not fit one; otherwise the packet is sent, waits for
    /// ARP, or is dropped and counted there.
    @inline(__always)
    mutating func sendIPv4(from source: IPv4Address, to destination: IPv4Address, protocol: IPProtocol,
                           payloadLength: Int, offload: ChecksumOffload = [], now: Instant,
                           writePayload: (IPv4Packet) -> Void) -> Bool {
        let ip = IPv4Repr(source: source, destination: destination, protocol: `protocol`,
                          payloadLength: payloadLength)
        guard var buffer = allocateFrame(length: EthernetFrame.headerLength + ip.bufferLength) else { return false }
        let packet = IPv4Packet(unchecked: EthernetFrame(unchecked: buffer.frame).payload)
        ip.emit(into: packet, checksumOffloaded: offload.contains(.computeIPv4Checksum))
        writePayload(packet)
        buffer.offload = offload
        route(buffer, to: destination, now: now)
        return true
    }

    /// Sends an IPv4 packet already written after the Ethernet header of `buffer`
    /// (the Ethernet header itself is filled here), routing it to its next hop and
    /// resolving that with ARP. The buffer is consumed: sent, queued for ARP, or
    /// dropped and counted.
    private mutating func route(_ buffer: PacketBuffer, to destination: IPv4Address, now: Instant) {
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
