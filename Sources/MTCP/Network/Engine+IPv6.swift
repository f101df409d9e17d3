/// IPv6 input validation (RFC 8200, RFC 4291 §2.5) and output through routing
/// and Neighbor Discovery. As for IPv4 the stack is a host: it neither forwards
/// nor reassembles; extension headers are walked by `IPv6HeaderChain`.
extension Engine {
    mutating func receiveIPv6(_ buffer: PacketBuffer, _ frame: EthernetFrame, now: Instant) {
        guard ipv6.isEnabled else { return drop(buffer, .unsupportedEtherType) }
        statistics.ipv6ReceivedPackets &+= 1
        let packet: IPv6Packet
        do {
            packet = try IPv6Packet(checking: frame.payload)
        } catch {
            return drop(buffer, error == .badVersion ? .ipv6BadVersion : .ipv6Truncated)
        }
        let destination = packet.destination, source = packet.source
        let toGroup = destination.isMulticast
        guard toGroup ? ipv6.isOurGroup(destination) : ipv6.isOurs(destination) else {
            return drop(buffer, .ipv6OtherDestination)
        }
        // RFC 4291 §2.5.2/§2.7: never a multicast or loopback source, nor an
        // IPv4-mapped one (it would alias an IPv4 peer). The unspecified source
        // is legal only for duplicate address detection, and one of our own
        // addresses only in a duplicate's advertisement (both checked by ND).
        guard !source.isMulticast, !source.isLoopback, !source.isIPv4Mapped else {
            return drop(buffer, .ipv6BadSource)
        }
        var upper = packet.nextHeader
        var offset = IPv6Packet.headerLength
        if upper != .tcp && upper != .icmpv6 {
            switch IPv6HeaderChain.walk(packet) {
            case .upperLayer(let found, let at):
                upper = found
                offset = at
            case .discard(let reason, let problem):
                if let problem, !toGroup || problem.evenToMulticast {
                    sendParameterProblem(problem, about: packet, toGroup: toGroup, now: now)
                }
                return drop(buffer, Self.dropReason(for: reason))
            }
        }
        let payload = packet.bytes.clampedSlice(from: offset, to: IPv6Packet.headerLength + Int(packet.payloadLength))
        if upper == .icmpv6 { return receiveICMPv6(buffer, frame, packet, payload, now: now) }
        guard !toGroup, !source.isUnspecified, !ipv6.isOurs(source) else { return drop(buffer, .ipv6BadSource) }
        guard ipv6.isUsable(now: now) else { return drop(buffer, .ipv6OtherDestination) }  // tentative (RFC 4862 §5.4)
        let local = IPAddress(destination), remote = IPAddress(source)
        if forwarding.isActive, let owner = foreignOwner(ofSegment: payload, local: local, remote: remote) {
            return forward(buffer, to: owner)
        }
        receiveTCP(buffer, payload, local: local, remote: remote, now: now)
    }

    private static func dropReason(for discard: IPv6HeaderChain.Discard) -> DropReason {
        switch discard {
        case .truncated: .ipv6Truncated
        case .fragment: .ipv6Fragment
        case .routingHeader: .ipv6RoutingHeader
        case .unrecognisedOption: .ipv6UnrecognisedOption
        case .unknownNextHeader: .ipv6UnknownNextHeader
        case .misplacedHopByHop: .ipv6MisplacedHopByHop
        case .noNextHeader: .ipv6NoNextHeader
        case .tooManyHeaders: .ipv6TooManyExtensionHeaders
        }
    }

    /// The one way an IPv6 packet of this host leaves: takes a buffer, writes
    /// the header, lets `writePayload` fill the payload (its checksum included),
    /// and routes it. False when no buffer was free or the packet does not fit
    /// one (counted); otherwise it is sent, waits for Neighbor Discovery, or is
    /// dropped and counted there.
    @inline(__always)
    mutating func sendIPv6(from source: IPv6Address, to destination: IPv6Address, nextHeader: IPProtocol,
                           payloadLength: Int, hopLimit: UInt8 = 64, offload: ChecksumOffload = [], now: Instant,
                           writePayload: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        guard let buffer = makeIPv6Packet(from: source, to: destination, nextHeader: nextHeader,
                                          payloadLength: payloadLength, hopLimit: hopLimit, offload: offload,
                                          writePayload: writePayload) else { return false }
        routeIPv6(buffer, to: destination, now: now)
        return true
    }

    /// A buffer holding an IPv6 packet of this host after room for the Ethernet
    /// header, or nil when no buffer was free or the packet does not fit one (counted).
    @inline(__always)
    mutating func makeIPv6Packet(from source: IPv6Address, to destination: IPv6Address, nextHeader: IPProtocol,
                                 payloadLength: Int, hopLimit: UInt8, offload: ChecksumOffload = [],
                                 writePayload: (UnsafeMutableRawBufferPointer) -> Void) -> PacketBuffer? {
        let ip = IPv6Repr(source: source, destination: destination, nextHeader: nextHeader,
                          payloadLength: payloadLength, hopLimit: hopLimit)
        guard var buffer = allocateFrame(length: EthernetFrame.headerLength + ip.bufferLength) else { return nil }
        let packet = IPv6Packet(unchecked: EthernetFrame(unchecked: buffer.frame).payload)
        ip.emit(into: packet)
        writePayload(packet.payload)
        buffer.offload = offload
        return buffer
    }

    /// Sends an IPv6 packet already written after the Ethernet header: to the
    /// group's MAC for multicast, else to the next hop's, resolved by Neighbor
    /// Discovery (RFC 4861 §7.2.2: the packet waits while the solicitation is out).
    mutating func routeIPv6(_ buffer: PacketBuffer, to destination: IPv6Address, now: Instant) {
        if destination.isMulticast {
            writeEthernetHeader(buffer, to: destination.multicastMAC, type: .ipv6)
            return transmit(buffer)
        }
        guard let nextHop = ipv6.routing.nextHop(for: destination) else {
            statistics.drops.count(.noRoute)
            return device.release(buffer)
        }
        let (mac, probe) = ipv6.neighbours.resolve(nextHop, now: now)
        if let mac {
            writeEthernetHeader(buffer, to: mac, type: .ipv6)
            transmit(buffer)
            // RFC 4861 §7.3.3: an entry in PROBE is confirmed by a unicast solicitation.
            if probe { sendNeighborSolicitation(for: nextHop, to: mac, now: now) }
            return
        }
        writeEthernetHeader(buffer, to: .broadcast, type: .ipv6)
        switch ipv6.pendingResolution.enqueue(buffer, nextHop: nextHop, now: now) {
        case nil:
            statistics.drops.count(.arpQueueFull)
            device.release(buffer)
        case true?:
            sendNeighborSolicitation(for: nextHop, to: nil, now: now)
        case false?:
            break
        }
    }

    /// The source address for a connection or message to `destination`.
    func ipv6SourceAddress(for destination: IPv6Address) throws(SocketError) -> IPv6Address {
        guard ipv6.isEnabled, let source = ipv6.sourceAddress(for: destination) else { throw .addressNotAvailable }
        return source
    }
}
