/// Frames between cores where the port spreads flows unpredictably
/// (`FlowSpreading.unpredictable`): a TCP segment is processed by the core
/// that owns its flow, the one `FlowOwnership` names, wherever it landed.
extension Engine {
    /// The core that owns the flow of TCP `packet` when that is not this one.
    @inline(__always)
    func foreignOwner(of packet: IPv4Packet) -> Int? {
        foreignOwner(ofSegment: packet.payload, local: IPAddress(packet.destination), remote: IPAddress(packet.source))
    }

    /// The same for a TCP segment of either family between `remote` and `local`.
    @inline(__always)
    func foreignOwner(ofSegment payload: UnsafeMutableRawBufferPointer, local: IPAddress, remote: IPAddress) -> Int? {
        guard payload.count >= 4 else { return nil }  // malformed: dropped here, counted
        let tuple = FourTuple(localAddress: local, localPort: payload.bigEndian(at: 2),
                              remoteAddress: remote, remotePort: payload.bigEndian(at: 0))
        let owner = ownership.owner(of: tuple)
        return owner == ownership.core ? nil : owner
    }

    /// Holds a frame for its owner until the end of the burst. The owner counts
    /// it as received (it passes the Ethernet layer there again), so this core
    /// takes it back: summed over the cores, received frames are the port's.
    @inline(__always)
    mutating func forward(_ buffer: PacketBuffer, to owner: Int) {
        statistics.receivedFrames &-= 1
        statistics.receivedBytes &-= UInt64(buffer.length)
        if !forwarding.stage(buffer, for: owner) { drop(buffer, .forwardRingFull) }
    }

    /// After a receive burst: sends the staged frames to their owners (a full
    /// ring drops, counted: a core never waits for another), then processes
    /// what other cores sent here. Returns the frames taken from other cores.
    mutating func exchangeForwarded(now: Instant) -> Int {
        let sent = forwarding.send { buffer, reason in
            statistics.drops.count(reason)
            device.release(buffer)
        }
        statistics.forwardedFrames &+= UInt64(sent)
        let taken = forwarding.take(into: receiveBatch)
        for index in 0..<taken { receive(receiveBatch[index], now: now) }
        return taken
    }

    /// At shutdown: frames other cores left for this one go back to the pools,
    /// and they release what they would still send (`ForwardingMesh.drain`
    /// takes what raced with this, once every core is joined).
    mutating func releaseForwarded() {
        forwarding.stop()
        while true {
            let taken = forwarding.take(into: receiveBatch)
            guard taken > 0 else { return }
            for index in 0..<taken { device.release(receiveBatch[index]) }
        }
    }
}
