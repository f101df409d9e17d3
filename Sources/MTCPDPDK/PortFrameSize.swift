import MTCP

/// Whether, and how, a port carries IP packets of the configured `mtu`: decided once
/// at port set-up from what the device reports, so that an MTU the device cannot
/// take stops the start with a reason instead of losing every large frame later.
///
/// Ethdev's own check (`mtu + overhead <= max_rx_pktlen`, `mtu <= max_mtu`) is
/// authoritative for real NICs. Two vdevs of DPDK 22.11 report a nominal
/// `max_rx_pktlen` of 1518 that their data path does not enforce, so ethdev
/// refuses any larger MTU on them although they carry it; their real limits are
/// checked here instead (measured on this machine):
/// - `net_af_packet` copies each frame between the kernel's packet ring and an
///   mbuf: a frame must fit a ring slot (the vdev's `framesz`, 2048 by default,
///   less the slot's header), a slot's data must fit an mbuf (the PMD refuses the
///   queue otherwise), a ring block (`blocksz`, default 4096) must hold whole
///   slots (the PMD reads slot i at i * `framesz`, while the kernel starts every
///   block afresh: with a remainder, frames are read from the wrong place and
///   nothing arrives), and the kernel interface must take the MTU;
/// - `net_memif` would chain its shared-memory buffers for a longer packet, but
///   two stacks at MTU 9000 over its default 2048-byte buffers saw thousands of
///   bad checksums and stalled flows, and none with 9216-byte buffers: a frame
///   must fit one buffer (the vdev's `bsize`, on both sides).
public enum PortFrameSize: Equatable, Sendable {
    /// The device takes the MTU through ethdev (`rxmode.mtu` at configure).
    case device
    /// Ethdev's figure is nominal for this PMD; the PMD's real limits were checked.
    case checkedForDriver

    /// Ethernet header and CRC: ethdev's overhead when the device gives no other.
    static let ethernetOverhead = 18
    /// Room an `net_af_packet` ring slot keeps before the frame (TPACKET2 header and
    /// `sockaddr_ll`, aligned, with the frame's network header aligned after it).
    static let packetRingSlotHeader = 80
    /// `net_af_packet`'s default ring slot size.
    static let defaultPacketRingSlot = 2048
    /// `net_memif`'s default buffer size.
    static let defaultMemifBuffer = 2048
    /// `net_af_packet`'s default ring block size (the page size).
    static let defaultPacketRingBlock = 4096
    /// What `net_af_packet` subtracts from a ring slot for the data it asks an mbuf to hold.
    static let packetRingSlotAllowance = 32

    /// Decides how a port with these properties carries `mtu`.
    /// - Parameters:
    ///   - maxMTU, maxFrameLength: the device's `max_mtu` and `max_rx_pktlen`.
    ///   - deviceArguments: the port's vdev arguments (`framesz=...` and so on).
    ///   - interfaceMTU: the MTU of a kernel interface by name, nil when unknown.
    /// - Throws: `DPDKError` saying which limit `mtu` exceeds and what to change.
    public static func resolve(mtu: Int, portName: String, maxMTU: Int, maxFrameLength: Int,
                               deviceArguments: [String: String],
                               interfaceMTU: (String) -> Int?) throws(DPDKError) -> PortFrameSize {
        guard mtu <= maxMTU else {
            throw DPDKError("\(portName) takes at most MTU \(maxMTU), mtu = \(mtu) (lower mtu in mtcp.conf)")
        }
        // Ethdev's rule: the overhead is what max_rx_pktlen adds to max_mtu where the
        // device states both, else the Ethernet header and CRC.
        let overhead = maxMTU != Int(UInt16.max) && maxFrameLength > maxMTU
            ? maxFrameLength - maxMTU : ethernetOverhead
        if mtu + overhead <= maxFrameLength { return .device }
        let frame = mtu + ethernetOverhead
        let room = dataRoom(mtu: mtu)
        if portName.hasPrefix("net_memif") {
            let buffer = deviceArguments["bsize"].flatMap { Int($0) } ?? defaultMemifBuffer
            guard frame <= buffer else {
                throw DPDKError("\(portName): a \(frame)-byte frame (mtu = \(mtu)) does not fit its \(buffer)-byte "
                    + "buffers (give the vdev bsize=\(room), on both sides of the memif)")
            }
            return .checkedForDriver
        }
        guard portName.hasPrefix("net_af_packet") else {
            throw DPDKError("\(portName) takes frames of at most \(maxFrameLength) bytes (MTU "
                + "\(maxFrameLength - overhead)), mtu = \(mtu) needs \(mtu + overhead) (lower mtu in mtcp.conf)")
        }
        let slot = deviceArguments["framesz"].flatMap { Int($0) } ?? defaultPacketRingSlot
        let block = deviceArguments["blocksz"].flatMap { Int($0) } ?? defaultPacketRingBlock
        guard frame + packetRingSlotHeader <= slot, slot - packetRingSlotAllowance <= room, block % slot == 0 else {
            throw DPDKError("\(portName): packet ring slots of \(slot) bytes in blocks of \(block) do not suit "
                + "mtu = \(mtu): a slot must hold a \(frame)-byte frame and fit a \(room)-byte mbuf, and a block "
                + "whole slots (give the vdev framesz=\(room),blocksz=\(pageMultiple(of: room)))")
        }
        if let interface = deviceArguments["iface"], let kernelMTU = interfaceMTU(interface), kernelMTU < mtu {
            throw DPDKError("\(portName): interface \(interface) has MTU \(kernelMTU), mtu = \(mtu) "
                + "(ip link set \(interface) mtu \(mtu))")
        }
        return .checkedForDriver
    }

    /// The `key=value` arguments of a vdev string (`net_af_packet0,iface=x,framesz=16384`).
    public static func deviceArguments(of vdev: String) -> [String: String] {
        var arguments: [String: String] = [:]
        for pair in vdev.split(separator: ",").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { arguments[String(parts[0])] = String(parts[1]) }
        }
        return arguments
    }

    /// mbuf data room for frames of `mtu`: one frame per mbuf, since the receive path
    /// parses contiguous frames and not every PMD here scatters into chains; room for a
    /// whole `net_af_packet` ring slot of that frame too, so that one vdev setting
    /// (`framesz` = this) suits both; at least DPDK's default 2048, in kibibytes.
    public static func dataRoom(mtu: Int) -> Int {
        max(2048, (mtu + ethernetOverhead + packetRingSlotHeader + 1023) & ~1023)
    }

    /// The least common multiple of `size` and the page size: a ring block of whole slots.
    static func pageMultiple(of size: Int) -> Int {
        var (a, b) = (size, defaultPacketRingBlock)
        while b != 0 { (a, b) = (b, a % b) }
        return size / a * defaultPacketRingBlock
    }
}
