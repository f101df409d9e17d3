import CDPDK
import MTCP

/// One RX/TX queue pair of a DPDK port with its own mbuf pool: the packet device
/// of one engine. Every call is a thin wrapper over DPDK's inline burst functions.
public struct DPDKQueue: PacketDevice {
    public let port: UInt16
    public let queue: UInt16
    public let macAddress: MACAddress
    public let transmitOffloads: ChecksumOffload
    let receiveOffloads: ChecksumOffload
    let pool: OpaquePointer
    /// Scratch array of mbuf pointers for one burst, allocated once.
    let mbufs: UnsafeMutablePointer<OpaquePointer?>
    let burstCapacity: Int
    private var allocationFailures: UInt64 = 0

    init(port: UInt16, queue: UInt16, pool: OpaquePointer, macAddress: MACAddress,
         transmitOffloads: ChecksumOffload, receiveOffloads: ChecksumOffload, burstSize: Int) {
        self.port = port
        self.queue = queue
        self.pool = pool
        self.macAddress = macAddress
        self.transmitOffloads = transmitOffloads
        self.receiveOffloads = receiveOffloads
        burstCapacity = burstSize
        mbufs = .allocate(capacity: burstSize)
    }

    @inline(__always)
    public mutating func receive(into buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        let wanted = UInt16(min(buffers.count, burstCapacity))
        let received = Int(rte_eth_rx_burst(port, queue, mbufs, wanted))
        var kept = 0
        for index in 0..<received {
            let mbuf = mbufs[index]!
            // Scatter is not enabled, so a chained mbuf is unexpected: drop it rather
            // than parse a frame whose bytes are not contiguous.
            guard mtcp_mbuf_nb_segs(mbuf) == 1 else {
                rte_pktmbuf_free(mbuf)
                continue
            }
            let length = Int(mtcp_mbuf_data_len(mbuf))
            buffers[kept] = PacketBuffer(handle: UnsafeMutableRawPointer(mbuf), bytes: mtcp_mbuf_data(mbuf),
                                         length: length, capacity: length + Int(mtcp_mbuf_tailroom(mbuf)),
                                         offload: receivedChecksums(mbuf))
            kept += 1
        }
        return kept
    }

    @inline(__always)
    private func receivedChecksums(_ mbuf: OpaquePointer) -> ChecksumOffload {
        guard !receiveOffloads.isEmpty else { return [] }
        let flags = mtcp_mbuf_ol_flags(mbuf)
        var result: ChecksumOffload = []
        if flags & mtcp_rx_ip_cksum_mask() == mtcp_rx_ip_cksum_good() { result.insert(.ipv4ChecksumGood) }
        if flags & mtcp_rx_l4_cksum_mask() == mtcp_rx_l4_cksum_good() { result.insert(.l4ChecksumGood) }
        return result
    }

    @inline(__always)
    public mutating func allocate() -> PacketBuffer? {
        guard let mbuf = rte_pktmbuf_alloc(pool) else {
            allocationFailures &+= 1
            return nil
        }
        return PacketBuffer(handle: UnsafeMutableRawPointer(mbuf), bytes: mtcp_mbuf_data(mbuf), length: 0,
                            capacity: Int(mtcp_mbuf_tailroom(mbuf)))
    }

    @inline(__always)
    public mutating func transmit(_ buffers: UnsafeMutableBufferPointer<PacketBuffer>) -> Int {
        var offered = 0
        var sent = 0
        while offered < buffers.count {
            let chunk = min(buffers.count - offered, burstCapacity)
            for index in 0..<chunk {
                let buffer = buffers[offered + index]
                let mbuf = OpaquePointer(buffer.handle)
                mtcp_mbuf_set_length(mbuf, UInt16(buffer.length))
                if buffer.offload.contains(.computeIPv4Checksum) {
                    let l4 = buffer.offload.contains(.computeTCPChecksum) ? mtcp_tx_tcp_cksum_flag() : 0
                    mtcp_mbuf_request_tx_checksum(mbuf, 14, 20, l4)
                }
                mbufs[index] = mbuf
            }
            let accepted = Int(rte_eth_tx_burst(port, queue, mbufs, UInt16(chunk)))
            sent += accepted
            offered += chunk
            if accepted < chunk { break }
        }
        return sent
    }

    @inline(__always)
    public mutating func release(_ buffer: PacketBuffer) {
        rte_pktmbuf_free(OpaquePointer(buffer.handle))
    }

    public func statistics() -> DeviceStatistics {
        var statistics = DPDKPort.statistics(ofPort: port) ?? DeviceStatistics()
        statistics.allocationFailures += allocationFailures
        return statistics
    }
}
