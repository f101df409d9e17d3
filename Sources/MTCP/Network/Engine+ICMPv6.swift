/// ICMPv6 (RFC 4443): echo replies, the errors a host must send (Parameter
/// Problem for headers it cannot process), under a rate limit; Neighbor
/// Discovery's messages go on to `receiveNeighborDiscovery`.
extension Engine {
    /// The most an error message may be (RFC 4443 §2.4 (c)): the minimum MTU.
    static var icmpv6ErrorLimit: Int { 1280 }

    mutating func receiveICMPv6(_ buffer: PacketBuffer, _ frame: EthernetFrame, _ ip: IPv6Packet,
                                _ message: UnsafeMutableRawBufferPointer, now: Instant) {
        guard let icmp = try? ICMPPacket(checking: message) else { return drop(buffer, .icmpv6Malformed) }
        guard icmp.verifyChecksum(source: ip.source, destination: ip.destination) else {
            return drop(buffer, .icmpv6BadChecksum)
        }
        switch icmp.icmpv6Type {
        case .neighborSolicitation, .neighborAdvertisement:
            receiveNeighborDiscovery(buffer, frame, ip, icmp, now: now)
        case .echoRequest where icmp.code == 0:
            guard !ip.source.isUnspecified, ipv6.isUsable(now: now) else { return drop(buffer, .ipv6BadSource) }
            sendEchoReply(to: icmp, of: ip, now: now)
            device.release(buffer)
        case .echoReply:
            statistics.echoRepliesReceived &+= 1
            device.release(buffer)
        default:
            // Errors about our packets (TCP learns from its own timers), router
            // discovery (routes are static), MLD: not acted on.
            drop(buffer, .icmpv6UnsupportedType)
        }
    }

    /// Answers an echo request with its identifier, sequence number and data
    /// (RFC 4443 §4.2), from the address it was sent to (or, for a group, from
    /// the address we would use to reach the requester).
    private mutating func sendEchoReply(to request: ICMPPacket, of ip: IPv6Packet, now: Instant) {
        let requester = ip.source
        guard let source = ip.destination.isMulticast ? ipv6.sourceAddress(for: requester) : Optional(ip.destination)
        else { return }
        let sent = sendIPv6(from: source, to: requester, nextHeader: .icmpv6, payloadLength: request.bytes.count,
                            now: now) { payload in
            payload.copyMemory(from: UnsafeRawBufferPointer(request.bytes))
            let reply = ICMPPacket(unchecked: payload)
            reply.icmpv6Type = .echoReply
            reply.fillChecksum(source: source, destination: requester)
        }
        if sent { statistics.icmpv6EchoRepliesSent &+= 1 }
    }

    /// Sends a Parameter Problem (RFC 4443 §3.4) about `invoking` to its source,
    /// unless RFC 4443 §2.4 (e) forbids it or the budget is spent: it carries as
    /// much of the invoking packet as fits in 1280 bytes.
    mutating func sendParameterProblem(_ problem: IPv6HeaderChain.ParameterProblem, about invoking: IPv6Packet,
                                       toGroup: Bool, now: Instant) {
        let requester = invoking.source
        guard !requester.isUnspecified, ipv6.isUsable(now: now),
              let source = toGroup ? ipv6.sourceAddress(for: requester) : Optional(invoking.destination) else { return }
        guard ipv6.errors.take(now: now) else {
            statistics.icmpv6ErrorsRateLimited &+= 1
            return
        }
        let quoted = invoking.packet.clampedSlice(
            from: 0, to: Self.icmpv6ErrorLimit - IPv6Packet.headerLength - ICMPPacket.headerLength)
        let sent = sendIPv6(from: source, to: requester, nextHeader: .icmpv6,
                            payloadLength: ICMPPacket.headerLength + quoted.count, now: now) { payload in
            let icmp = ICMPPacket(unchecked: payload)
            icmp.icmpv6Type = .parameterProblem
            icmp.code = problem.code
            icmp.bytes.storeBigEndian(problem.pointer, at: 4)
            icmp.data.copyMemory(from: UnsafeRawBufferPointer(quoted))
            icmp.fillChecksum(source: source, destination: requester)
        }
        if sent { statistics.icmpv6ErrorsSent &+= 1 }
    }

    /// Sends an ICMPv6 echo request with `dataLength` bytes of data to `destination`.
    @discardableResult
    public mutating func sendEchoRequest(to destination: IPv6Address, identifier: UInt16, sequenceNumber: UInt16,
                                         dataLength: Int = 56, now: Instant) -> Bool {
        guard let source = ipv6.sourceAddress(for: destination) else { return false }
        return sendIPv6(from: source, to: destination, nextHeader: .icmpv6,
                        payloadLength: ICMPPacket.headerLength + dataLength, now: now) { payload in
            let icmp = ICMPPacket(unchecked: payload)
            icmp.icmpv6Type = .echoRequest
            icmp.code = 0
            icmp.identifier = identifier
            icmp.sequenceNumber = sequenceNumber
            for index in 0..<dataLength { icmp.data[index] = UInt8(truncatingIfNeeded: index) }
            icmp.fillChecksum(source: source, destination: destination)
        }
    }
}
