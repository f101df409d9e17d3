/// Neighbor Discovery (RFC 4861) for a host: answering solicitations for our
/// addresses, learning neighbours into the shared cache (`NDTable`), resolving
/// next hops, and duplicate address detection at start (RFC 4862 §5.4).
extension Engine {
    mutating func receiveNeighborDiscovery(_ buffer: PacketBuffer, _ frame: EthernetFrame, _ ip: IPv6Packet,
                                           _ icmp: ICMPPacket, now: Instant) {
        // RFC 4861 §7.1: a hop limit of 255 proves the message was not forwarded.
        guard ip.hopLimit == 255, let message = try? NeighborDiscoveryRepr.parse(icmp) else {
            return drop(buffer, .ndMalformed)
        }
        switch message.kind {
        case .solicitation:
            receiveSolicitation(buffer, ip, message, now: now)
        case .advertisement(_, let solicited, _):
            receiveAdvertisement(buffer, ip, message, solicited: solicited, now: now)
        }
    }

    private mutating func receiveSolicitation(_ buffer: PacketBuffer, _ ip: IPv6Packet, _ message: NeighborDiscoveryRepr,
                                              now: Instant) {
        let source = ip.source
        let fromDAD = source.isUnspecified
        // §7.1.1: a DAD probe goes to the solicited-node group and names no link-layer address.
        guard !fromDAD || (ip.destination.isMulticast && message.linkLayerAddress == nil) else {
            return drop(buffer, .ndMalformed)
        }
        guard ipv6.isOurs(message.target) else { return drop(buffer, .ndNotForUs) }
        if now < ipv6.tentativeUntil {
            // RFC 4862 §5.4.3: another node probing our tentative address holds it too.
            if fromDAD { duplicateAddressDetected() }
            return drop(buffer, .ndAddressConflict)
        }
        // §7.2.3: a solicitation says where its sender is, not that it hears us
        // (STALE), and a different cached address "should be replaced".
        if let mac = message.linkLayerAddress,
           !learnNeighbour(source, mac, reachable: false, overridingLock: true, now: now) {
            return drop(buffer, .ndSpoofedStatic)
        }
        device.release(buffer)
        // §7.2.4: answer the solicitor; a DAD probe is answered to all nodes.
        sendNeighborAdvertisement(for: message.target, to: fromDAD ? .allNodes : source,
                                  at: fromDAD ? nil : message.linkLayerAddress, solicited: !fromDAD, now: now)
    }

    private mutating func receiveAdvertisement(_ buffer: PacketBuffer, _ ip: IPv6Packet,
                                               _ message: NeighborDiscoveryRepr, solicited: Bool, now: Instant) {
        // §7.1.2: an advertisement to a group is never solicited.
        guard !(solicited && ip.destination.isMulticast) else { return drop(buffer, .ndMalformed) }
        let target = message.target
        if ipv6.isOurs(target) {
            if now < ipv6.tentativeUntil { duplicateAddressDetected() }
            return drop(buffer, .ndAddressConflict)
        }
        // §7.2.5: only an entry we have, or an answer to a solicitation (ours:
        // it came to our unicast address, on whichever core's queue), is updated.
        guard let mac = message.linkLayerAddress, ipv6.routing.isDirectlyConnected(target),
              solicited || ipv6.neighbours.contains(target) else {
            return drop(buffer, .ndNotForUs)
        }
        // §7.2.5: a solicited advertisement confirms reachability; an unsolicited one only the address.
        if !learnNeighbour(target, mac, reachable: solicited, now: now) { return drop(buffer, .ndSpoofedStatic) }
        device.release(buffer)
    }

    /// Enters `address` at `mac` in the cache (a neighbour on our link only)
    /// and sends what waited for it. False when a static entry says otherwise
    /// (spoofing, counted by the caller).
    private mutating func learnNeighbour(_ address: IPv6Address, _ mac: MACAddress, reachable: Bool,
                                         overridingLock: Bool = false, now: Instant) -> Bool {
        guard !mac.isMulticast, mac != .zero, ipv6.routing.isDirectlyConnected(address) else { return true }
        let outcome = ipv6.neighbours.learn(address, mac, now: now, reachable: reachable, overridingLock: overridingLock)
        if statistics.countLearning(outcome, fullTable: .ndCacheFull) { releaseFramesWaiting(forNeighbour: address, now: now) }
        return outcome != .conflictsWithStatic
    }

    private mutating func duplicateAddressDetected() {
        if !ipv6.duplicateDetected { statistics.duplicateAddressesDetected &+= 1 }
        ipv6.duplicateDetected = true
    }

    /// Asks for `target`'s link-layer address: to its solicited-node group, or
    /// to `mac` to confirm an entry in PROBE (§7.3.3's unicast probe).
    ///
    /// Both destinations' link-layer addresses are known, so the solicitation
    /// goes straight to the device and never through `routeIPv6`, which calls
    /// this. That call cycle (routeIPv6 -> here -> sendIPv6 -> routeIPv6) kept
    /// cross-module optimisation from serialising the engine's specialisations
    /// in client modules: a specialised function in a cycle is not serialisable,
    /// nor is any caller up to the runtime's core loop, and the application ran
    /// unspecialised (callgrind: 32.2k instructions per transaction against main's 22k).
    mutating func sendNeighborSolicitation(for target: IPv6Address, to mac: MACAddress?, now: Instant) {
        guard let source = ipv6.sourceAddress(for: target) else { return }
        let message = NeighborDiscoveryRepr(kind: .solicitation, target: target, linkLayerAddress: macAddress)
        let destination = mac == nil ? target.solicitedNode : target
        guard let buffer = neighborDiscoveryPacket(message, from: source, to: destination) else { return }
        writeEthernetHeader(buffer, to: mac ?? destination.multicastMAC, type: .ipv6)
        transmit(buffer)
        statistics.neighborSolicitationsSent &+= 1
    }

    /// With `mac`, the solicitor's own link-layer address, the answer goes
    /// straight there (§7.2.4), as ARP answers in place: routing it would
    /// resolve the solicitor and mark its entry in use, so a flood of
    /// solicitations from new senders would pin the cache for the in-use window
    /// and refuse every new neighbour meanwhile, instead of turning over.
    private mutating func sendNeighborAdvertisement(for target: IPv6Address, to destination: IPv6Address,
                                                    at mac: MACAddress?, solicited: Bool, now: Instant) {
        let message = NeighborDiscoveryRepr(kind: .advertisement(router: false, solicited: solicited, override: true),
                                            target: target, linkLayerAddress: macAddress)
        statistics.neighborAdvertisementsSent &+= 1
        guard let mac, !mac.isMulticast, mac != .zero else {
            return sendNeighborDiscovery(message, from: target, to: destination, now: now)
        }
        guard let buffer = neighborDiscoveryPacket(message, from: target, to: destination) else { return }
        writeEthernetHeader(buffer, to: mac, type: .ipv6)
        transmit(buffer)
    }

    private mutating func sendNeighborDiscovery(_ message: NeighborDiscoveryRepr, from source: IPv6Address,
                                                to destination: IPv6Address, now: Instant) {
        guard let buffer = neighborDiscoveryPacket(message, from: source, to: destination) else { return }
        routeIPv6(buffer, to: destination, now: now)
    }

    private mutating func neighborDiscoveryPacket(_ message: NeighborDiscoveryRepr, from source: IPv6Address,
                                                  to destination: IPv6Address) -> PacketBuffer? {
        makeIPv6Packet(from: source, to: destination, nextHeader: .icmpv6, payloadLength: message.bufferLength,
                       hopLimit: 255) { payload in
            let icmp = ICMPPacket(unchecked: payload)
            message.emit(into: icmp)
            icmp.fillChecksum(source: source, destination: destination)
        }
    }

    /// RFC 4862 §5.4.2: one solicitation from the unspecified address for each
    /// of our addresses; they stay tentative for RetransTimer, and an answer
    /// (or another node's probe for one of them) takes IPv6 down on this engine.
    /// The engines of one port all wait; one of them (`sendingProbes`) probes.
    public mutating func detectDuplicateAddresses(now: Instant, sendingProbes: Bool = true) {
        guard ipv6.isEnabled, ipv6.detectsDuplicates else { return }
        ipv6.tentativeUntil = now + IPv6Layer.duplicateAddressDetectionTime
        for address in ipv6.addresses where sendingProbes {
            let probe = NeighborDiscoveryRepr(kind: .solicitation, target: address, linkLayerAddress: nil)
            sendNeighborDiscovery(probe, from: .unspecified, to: address.solicitedNode, now: now)
            statistics.neighborSolicitationsSent &+= 1
        }
    }

    /// Whether this engine's IPv6 addresses are in use (DAD passed, no duplicate).
    public func ipv6IsUp(now: Instant) -> Bool { ipv6.isUsable(now: now) }

    /// Resolution retries and give-ups, and frames resolved on another core.
    mutating func runNeighborDiscoveryTimers(now: Instant) {
        guard !ipv6.pendingResolution.isEmpty else { return }
        let generation = ipv6.neighbours.generation
        if generation != ipv6.neighbourGenerationSeen {
            ipv6.neighbourGenerationSeen = generation
            while let nextHop = ipv6.pendingResolution.firstResolved(in: ipv6.neighbours, now: now) {
                releaseFramesWaiting(forNeighbour: nextHop, now: now)
            }
        }
        while let action = ipv6.pendingResolution.nextAction(now: now) {
            switch action {
            case .sendRequest(let nextHop):
                sendNeighborSolicitation(for: nextHop, to: nil, now: now)
            case .giveUp(let nextHop):
                while let buffer = ipv6.pendingResolution.take(waitingFor: nextHop) {
                    statistics.drops.count(.arpResolutionTimeout)
                    device.release(buffer)
                }
            }
        }
    }

    private mutating func releaseFramesWaiting(forNeighbour nextHop: IPv6Address, now: Instant) {
        guard ipv6.pendingResolution.isResolving(nextHop) else { return }
        let (resolved, probe) = ipv6.neighbours.resolve(nextHop, now: now)
        guard let mac = resolved else { return }
        ipv6.pendingResolution.resolve(nextHop)
        while let buffer = ipv6.pendingResolution.take(waitingFor: nextHop) {
            EthernetFrame(unchecked: buffer.frame).destination = mac
            transmit(buffer)
        }
        // This call may have taken the turn of a unicast probe (RFC 4861 §7.3.3).
        if probe { sendNeighborSolicitation(for: nextHop, to: mac, now: now) }
    }
}
