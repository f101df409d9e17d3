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
        let forUs = answersARP(for: arp.targetProtocolAddress)
        // RFC 826's merge rule: a sender already in the table is refreshed from any
        // ARP packet (a gratuitous ARP announces a new MAC); a new one is added only
        // from a packet addressed to us, so ARP chatter between other hosts cannot
        // fill the table. Static entries change for nothing the wire says.
        // Only hosts on our connected networks can be next hops, so only they are
        // learned; a request from elsewhere (a multi-homed host's other address, a
        // router's secondary one) is still answered, as RFC 826 and Linux do. An
        // ARP probe (RFC 5227) has sender 0.0.0.0: it teaches nothing either.
        if !sender.isUnspecified, routing.isDirectlyConnected(sender), forUs || neighbours.contains(sender) {
            let outcome = neighbours.learn(sender, arp.senderHardwareAddress, now: now,
                                           overridingLock: forUs && arp.operation == .request)
            if outcome == .conflictsWithStatic { return drop(buffer, .arpSpoofedStatic) }
            if statistics.countLearning(outcome, fullTable: .arpCacheFull) { releaseFramesWaiting(for: sender, now: now) }
        }
        guard forUs else { return drop(buffer, .arpNotForUs) }
        guard arp.operation == .request, !lineRefusesStatelessReply(now: now) else { return device.release(buffer) }

        // Answer in place: the request's buffer becomes the reply.
        ARPRepr(operation: .reply, senderHardwareAddress: macAddress,
                senderProtocolAddress: arp.targetProtocolAddress,
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

    /// Gratuitous ARPs (RFC 5227 §2.3's announcements: requests with our address
    /// as both sender and target) for when the port comes up: neighbours that
    /// knew us at another MAC update their entry (RFC 826's merge rule) before
    /// our first packet, instead of sending to the old MAC until theirs expires.
    /// Two, `announceInterval` apart (the engine's timers send the second), so a
    /// neighbour that lost the first or still locks its entry takes the second.
    public mutating func announceAddress(now: Instant) {
        announcementsLeft = Self.announceNumber
        sendAnnouncement(now: now)
    }

    /// RFC 5227's ANNOUNCE_NUM and ANNOUNCE_INTERVAL.
    static var announceNumber: Int { 2 }
    static var announceInterval: TimeSpan { .seconds(2) }

    mutating func sendAnnouncement(now: Instant) {
        sendARPRequest(for: address.address)
        announcementsLeft -= 1
        nextAnnouncement = now + Self.announceInterval
    }

    /// Sends the frames waiting on this core for next hops that the table now
    /// resolves: the answer to this core's request may have landed on another
    /// core's queue. Looks only when the table changed since the last look.
    mutating func releaseFramesResolvedElsewhere(now: Instant) {
        let generation = neighbours.generation
        guard generation != neighbourGenerationSeen else { return }
        neighbourGenerationSeen = generation
        while let nextHop = pendingResolution.firstResolved(in: neighbours, now: now) {
            releaseFramesWaiting(for: nextHop, now: now)
        }
    }

    /// Sends the frames that were waiting for `nextHop`, now that it resolved
    /// (through `resolve`, which marks the entry in use).
    private mutating func releaseFramesWaiting(for nextHop: IPv4Address, now: Instant) {
        guard pendingResolution.isResolving(nextHop) else { return }
        let (resolved, probe) = neighbours.resolve(nextHop, now: now)
        guard let mac = resolved else { return }
        pendingResolution.resolve(nextHop)
        while let buffer = pendingResolution.take(waitingFor: nextHop) {
            EthernetFrame(unchecked: buffer.frame).destination = mac
            transmit(buffer)
        }
        // A stale entry (a neighbour that moved, learned from its request) is
        // confirmed now: this call took the probe's turn.
        if probe { sendARPRequest(for: nextHop) }
    }
}
