import Glibc

/// A Linux AF_PACKET raw socket bound to one interface, in promiscuous mode, that
/// receives every frame arriving on it (not the ones it or others send out).
/// Glibc's module does not export `sockaddr_ll` / `packet_mreq`, so their bytes are
/// written here by hand (layouts from <linux/if_packet.h>).
struct PacketSocket: ~Copyable {
    let fd: Int32
    let name: String
    let index: Int32

    private static let ethPAll: UInt16 = 0x0003
    private static let solPacket: Int32 = 263
    private static let packetAddMembership: Int32 = 1
    private static let packetMRPromisc: UInt16 = 1
    private static let packetOutgoing: UInt8 = 4
    /// sizeof(struct sockaddr_ll)
    private static let addressLength = 20

    init(interface: String) throws(ImpairError) {
        let index = Int32(bitPattern: if_nametoindex(interface))
        guard index > 0 else { throw ImpairError("no interface \(interface)") }
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(Self.ethPAll.bigEndian))
        guard fd >= 0 else { throw ImpairError("socket(AF_PACKET) for \(interface): errno \(errno) (needs root)") }
        // struct sockaddr_ll { u16 family; be16 protocol; i32 ifindex; u16 hatype; u8 pkttype; u8 halen; u8 addr[8]; }
        var address = [UInt8](repeating: 0, count: Self.addressLength)
        withUnsafeBytes(of: UInt16(AF_PACKET)) { address.replaceSubrange(0..<2, with: $0) }
        withUnsafeBytes(of: Self.ethPAll.bigEndian) { address.replaceSubrange(2..<4, with: $0) }
        withUnsafeBytes(of: index) { address.replaceSubrange(4..<8, with: $0) }
        let bound = address.withUnsafeBytes {
            bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(Self.addressLength))
        }
        guard bound == 0 else {
            close(fd)
            throw ImpairError("bind to \(interface): errno \(errno)")
        }
        // struct packet_mreq { i32 ifindex; u16 type; u16 alen; u8 address[8]; }
        var request = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: index) { request.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: Self.packetMRPromisc) { request.replaceSubrange(4..<6, with: $0) }
        let promiscuous = request.withUnsafeBytes {
            setsockopt(fd, Self.solPacket, Self.packetAddMembership, $0.baseAddress, socklen_t(16))
        }
        guard promiscuous == 0 else {
            close(fd)
            throw ImpairError("promiscuous mode on \(interface): errno \(errno)")
        }
        var buffer: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        self.name = interface
        self.index = index
    }

    deinit { close(fd) }

    /// One incoming frame into `buffer` without blocking: its length, 0 for a frame
    /// this host sent out on the interface (ignored), nil when nothing is waiting.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var address = [UInt8](repeating: 0, count: Self.addressLength)
        var length = socklen_t(Self.addressLength)
        let count = address.withUnsafeMutableBytes { raw in
            recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT),
                     raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard count >= 0 else { return nil }
        return address[10] == Self.packetOutgoing ? 0 : count
    }

    /// Sends one whole frame; false when the kernel refused it.
    func send(_ frame: UnsafeRawBufferPointer) -> Bool {
        Glibc.send(fd, frame.baseAddress, frame.count, Int32(MSG_DONTWAIT)) == frame.count
    }
}

struct ImpairError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
