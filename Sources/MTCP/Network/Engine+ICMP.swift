/// ICMP (RFC 792): answering echo requests, and sending echo requests of our own
/// (a diagnostic, and how tests prove two stacks can reach each other).
extension Engine {
    mutating func receiveICMP(_ buffer: PacketBuffer, _ frame: EthernetFrame, _ ip: IPv4Packet, now: Instant) {
        guard let icmp = try? ICMPPacket(checking: ip.payload) else { return drop(buffer, .icmpMalformed) }
        guard icmp.verifyChecksum() else { return drop(buffer, .icmpBadChecksum) }
        guard let echo = try? ICMPEchoRepr.parse(icmp) else {
            return passToKernel(buffer, otherwise: .icmpUnsupportedType)
        }
        guard echo.kind == .request else {
            // The kernel's pings (through the exception path) share the address.
            statistics.echoRepliesReceived &+= 1
            return passToKernel(buffer, otherwise: nil)
        }
        if lineRefusesStatelessReply(now: now) { return device.release(buffer) }

        // Answer in place: swap the addresses and turn the type around. Only the
        // type word changes in the ICMP message, so its checksum is updated, not
        // recomputed over the data (RFC 1624).
        let oldTypeWord = UInt16(icmp.messageType.rawValue) << 8 | UInt16(icmp.code)
        icmp.messageType = .echoReply
        icmp.checksum = InternetChecksum.update(icmp.checksum, replacing: oldTypeWord,
                                                with: UInt16(ICMPType.echoReply.rawValue) << 8 | UInt16(icmp.code))
        // From the address pinged: the own one or a virtual one.
        let requester = ip.source
        ip.source = ip.destination
        ip.destination = requester
        ip.timeToLive = 64
        ip.fillChecksum()
        let requesterMAC = frame.source
        frame.source = macAddress
        frame.destination = requesterMAC
        var reply = buffer
        // Trim the padding a short request may have carried.
        reply.length = EthernetFrame.headerLength + Int(ip.totalLength)
        transmit(reply)
        statistics.echoRepliesSent &+= 1
    }

    /// Sends an echo request with `dataLength` bytes of data to `destination`.
    /// Returns false when no buffer was free (counted as `bufferExhausted`).
    @discardableResult
    public mutating func sendEchoRequest(to destination: IPv4Address, identifier: UInt16, sequenceNumber: UInt16,
                                         dataLength: Int = 56, now: Instant) -> Bool {
        let echo = ICMPEchoRepr(kind: .request, identifier: identifier, sequenceNumber: sequenceNumber,
                                dataLength: dataLength)
        return sendIPv4(from: address.address, to: destination, protocol: .icmp, payloadLength: echo.bufferLength,
                        now: now) { packet in
            let icmp = ICMPPacket(unchecked: packet.payload)
            echo.emit(into: icmp)
            for index in 0..<dataLength { icmp.data[index] = UInt8(truncatingIfNeeded: index) }
            icmp.fillChecksum()
        }
    }
}
