import Testing
import MTCP
import MTCPDPDK

/// What DPDK 22.11's vdevs report here (device info read on this machine): af_packet
/// and memif a nominal 1518-byte frame and no MTU bound, af_xdp MTU 3542.
private let nominalFrame = 1518
private let noMTUBound = Int(UInt16.max)

private func resolve(_ mtu: Int, _ port: String, maxMTU: Int = noMTUBound, maxFrame: Int = nominalFrame,
                     vdev: String = "", kernelMTU: Int? = nil) throws(DPDKError) -> PortFrameSize {
    try PortFrameSize.resolve(mtu: mtu, portName: port, maxMTU: maxMTU, maxFrameLength: maxFrame,
                              deviceArguments: PortFrameSize.deviceArguments(of: vdev),
                              interfaceMTU: { _ in kernelMTU })
}

private func refusal(_ body: () throws(DPDKError) -> PortFrameSize) -> String? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.description
    }
}

@Suite struct PortFrameSizeTests {
    @Test func standardFrameGoesThroughEthdev() throws {
        #expect(try resolve(1500, "net_af_packet0") == .device)
        #expect(try resolve(1500, "net_af_xdp0", maxMTU: 3542, maxFrame: 3560) == .device)
    }

    @Test func jumboOnANICThatTakesIt() throws {
        #expect(try resolve(9000, "0000:01:00.0", maxMTU: 9702, maxFrame: 9728) == .device)
    }

    @Test func mtuAboveTheDeviceMaximumIsRefused() throws {
        let message = try #require(refusal { () throws(DPDKError) in
            try resolve(9000, "net_af_xdp0", maxMTU: 3542, maxFrame: 3560) })
        #expect(message.contains("net_af_xdp0 takes at most MTU 3542, mtu = 9000"), "\(message)")
    }

    @Test func frameAboveTheDeviceMaximumIsRefused() throws {
        let message = try #require(refusal { () throws(DPDKError) in try resolve(9000, "net_tap0", maxFrame: 1522) })
        #expect(message.contains("frames of at most 1522 bytes (MTU 1504), mtu = 9000 needs 9018"), "\(message)")
    }

    @Test func memifCarriesJumboFramesInBuffersThatHoldThem() throws {
        #expect(try resolve(9000, "net_memif0", vdev: "net_memif0,role=server,bsize=9216") == .checkedForDriver)
        let message = try #require(refusal { () throws(DPDKError) in
            try resolve(9000, "net_memif0", vdev: "net_memif0,role=server") })
        #expect(message.contains("9018-byte frame (mtu = 9000) does not fit its 2048-byte buffers"), "\(message)")
        #expect(message.contains("bsize=9216"), "\(message)")
    }

    @Test func packetSocketNeedsARingSlotForTheFrame() throws {
        let message = try #require(refusal { () throws(DPDKError) in
            try resolve(9000, "net_af_packet0", vdev: "net_af_packet0,iface=mtcp-a0", kernelMTU: 9000) })
        #expect(message.contains("slots of 2048 bytes in blocks of 4096 do not suit mtu = 9000"), "\(message)")
        #expect(message.contains("framesz=9216,blocksz=36864"), "\(message)")
        #expect(try resolve(9000, "net_af_packet0", vdev: "net_af_packet0,iface=mtcp-a0,framesz=9216,blocksz=36864",
                            kernelMTU: 9000) == .checkedForDriver)
    }

    /// The PMD refuses a queue whose mbufs cannot take a whole slot's data.
    @Test func packetSocketSlotMustFitAnMbuf() throws {
        let message = try #require(refusal { () throws(DPDKError) in
            try resolve(9000, "net_af_packet0", vdev: "net_af_packet0,iface=mtcp-a0,framesz=16384,blocksz=16384", kernelMTU: 9000) })
        #expect(message.contains("slots of 16384 bytes in blocks of 16384 do not suit mtu = 9000"), "\(message)")
    }

    /// The PMD finds slot i at i * framesz: a block with a remainder misplaces every later frame.
    @Test func packetSocketBlockMustHoldWholeSlots() throws {
        let message = try #require(refusal { () throws(DPDKError) in
            try resolve(9000, "net_af_packet0", vdev: "net_af_packet0,iface=mtcp-a0,framesz=9216,blocksz=12288", kernelMTU: 9000) })
        #expect(message.contains("slots of 9216 bytes in blocks of 12288 do not suit mtu = 9000"), "\(message)")
    }

    @Test func packetSocketNeedsTheKernelInterfaceMTU() throws {
        let message = try #require(refusal { () throws(DPDKError) in
            try resolve(9000, "net_af_packet0", vdev: "net_af_packet0,iface=mtcp-a0,framesz=9216,blocksz=36864", kernelMTU: 1500) })
        #expect(message.contains("interface mtcp-a0 has MTU 1500, mtu = 9000 (ip link set mtcp-a0 mtu 9000)"),
                "\(message)")
    }

    @Test func dataRoomHoldsOneFrame() {
        #expect(PortFrameSize.dataRoom(mtu: 1500) == 2048)
        #expect(PortFrameSize.dataRoom(mtu: 9000) == 9216)
    }
}
