/// ARP (RFC 826) for IPv4 over Ethernet: answering requests for our address,
/// learning neighbours, and resolving next hops for outgoing packets.
extension Engine {
    mutating func receiveARP(_ buffer: PacketBuffer, _ frame: EthernetFrame, now: Instant) {
        guard let packet = try? ARPPacket(checking: frame.payload) else { return drop(buffer, .arpMalformed) }
        let arp = ARPRepr.parse(packet)
        let sender = arp.senderProtocolAddress
        guard !arp.senderHardwareAddress.isMulticast, arp.senderHardwareAddress != .zero,
              !sender.isMulticast, !sender.isBroadcast else {
            return drop(buffer, .arpMalformed)
        }
        guard sender != address.address else { return drop(buffer, .arpAddressConflict) }
        let forUs = arp.targetProtocolAddress == address.address
        // RFC 826's merge rule: refresh a known sender from any ARP packet, add a new
        // one only from packets addressed to us. An ARP probe (RFC 5227) has sender
        // 0.0.0.0 and teaches nothing; nor does a sender off our connected networks,
        // which can never be a next hop (a request from one is still answered).
        if !sender.isUnspecified, forUs || neighbours.contains(sender), routing.isDirectlyConnected(sender) {
            switch neighbours.learn(sender, arp.senderHardwareAddress, now: now) {
            case .stored:
                releaseFramesWaiting(for: sender, mac: arp.senderHardwareAddress)
            case .storedEvicting:
                statistics.arpCacheEvictions &+= 1
                releaseFramesWaiting(for: sender, mac: arp.senderHardwareAddress)
            case .refused:
                statistics.drops.count(.arpCacheFull)
            }
        }
        guard forUs else { return drop(buffer, .arpNotForUs) }
        guard arp.operation == .request else { return device.release(buffer) }

        // Answer in place: the request's buffer becomes the reply.
        ARPRepr(operation: .reply, senderHardwareAddress: macAddress, senderProtocolAddress: address.address,
                targetHardwareAddress: arp.senderHardwareAddress, targetProtocolAddress: sender)
            .emit(into: packet)
        writeEthernetHeader(buffer, to: arp.senderHardwareAddress, type: .arp)
        var reply = buffer
        reply.length = EthernetFrame.headerLength + ARPPacket.length
        transmit(reply)
        statistics.arpRepliesSent &+= 1
    }

    /// Broadcasts a request for `target`'s Ethernet address.
    mutating func sendARPRequest(for target: IPv4Address) {
        guard var buffer = device.allocate() else { return statistics.drops.count(.bufferExhausted) }
        buffer.length = EthernetFrame.headerLength + ARPPacket.length
        writeEthernetHeader(buffer, to: .broadcast, type: .arp)
        ARPRepr(operation: .request, senderHardwareAddress: macAddress, senderProtocolAddress: address.address,
                targetHardwareAddress: .zero, targetProtocolAddress: target)
            .emit(into: ARPPacket(unchecked: EthernetFrame(unchecked: buffer.frame).payload))
        transmit(buffer)
        statistics.arpRequestsSent &+= 1
    }

    /// Sends the frames that were waiting for `nextHop`, now that it resolved.
    private mutating func releaseFramesWaiting(for nextHop: IPv4Address, mac: MACAddress) {
        guard !pendingResolution.isEmpty else { return }
        pendingResolution.resolve(nextHop)
        while let buffer = pendingResolution.take(waitingFor: nextHop) {
            EthernetFrame(unchecked: buffer.frame).destination = mac
            transmit(buffer)
        }
    }
}
