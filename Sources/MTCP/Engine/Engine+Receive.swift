/// The path of a received frame up the layers: Ethernet, then ARP or IPv4,
/// then ICMP or TCP. The engine, above them all, does the demultiplexing, so the
/// network layer never calls up into TCP; TCP calls down into it to send.
extension Engine {
    @inline(__always)
    mutating func receive(_ buffer: PacketBuffer, now: Instant) {
        guard let frame = receiveEthernet(buffer) else { return }
        switch frame.etherType {
        case .ipv4:
            guard let packet = receiveIPv4(buffer, frame) else { return }
            switch packet.protocol {
            case .tcp:
                if ownership.predictsOwners, let owner = foreignOwner(of: packet) {
                    if forwarding.isActive { return forward(buffer, to: owner) }
                    statistics.steeringMismatches &+= 1  // steered, yet here: processed, and counted
                }
                receiveTCP(buffer, packet, now: now)
            case .icmp:
                if exception?.keeps(.icmp) == true { return passToKernel(buffer, otherwise: nil) }
                receiveICMP(buffer, frame, packet, now: now)
            default: passToKernel(buffer, otherwise: .ipv4UnsupportedProtocol)
            }
        case .arp:
            if exception != nil { copyToKernel(buffer) }
            receiveARP(buffer, frame, now: now)
        case .ipv6: receiveIPv6(buffer, frame, now: now)
        default: passToKernel(buffer, otherwise: .unsupportedEtherType)
        }
    }
}
