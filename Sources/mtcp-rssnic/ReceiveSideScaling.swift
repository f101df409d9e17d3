import CDPDK

/// The queue a NIC with receive-side scaling gives a frame, configured as the
/// stack configures an RSS port (`DPDKPort.configure`): IPv4 TCP hashed over
/// addresses and ports, other IPv4 (and fragments) over the addresses alone,
/// with the symmetric Toeplitz key; the low bits of the hash index the
/// redirection table. ARP and every other frame go to queue 0, as NICs do.
///
/// The hash is DPDK's `rte_softrss`, not the stack's `ToeplitzHash`: the
/// fixture is a second implementation, so a fault in the stack's hash shows as
/// frames on the wrong core instead of agreeing with itself.
struct ReceiveSideScaling: ~Copyable {
    let redirectionTable: [UInt16]
    private let key: UnsafeMutablePointer<UInt8>
    private let keyLength: Int

    /// - Parameter redirectionTable: a power-of-two number of entries, as NICs have.
    init(key: [UInt8], redirectionTable: [UInt16]) {
        precondition(redirectionTable.count.nonzeroBitCount == 1, "a redirection table has 2^n entries")
        precondition(key.count >= 16, "an IPv4 TCP hash reads 16 key bytes")
        self.redirectionTable = redirectionTable
        keyLength = key.count
        self.key = .allocate(capacity: key.count)
        self.key.initialize(from: key, count: key.count)
    }

    deinit { key.deallocate() }

    /// What a frame is to the hash.
    enum Classification: Equatable {
        /// IPv4 TCP, not a fragment: addresses and ports.
        case ipv4TCP(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16)
        /// Other IPv4, or a fragment: the addresses.
        case ipv4(source: UInt32, destination: UInt32)
        /// ARP, IPv6, anything else or too short to parse: queue 0.
        case unhashed
    }

    /// The queue for `frame` (Ethernet, no VLAN tag) and whether it was hashed.
    func queue(of frame: UnsafeRawBufferPointer) -> (queue: Int, hashed: Bool) {
        guard let hash = hash(of: Self.classify(frame)) else { return (0, false) }
        return (Int(redirectionTable[Int(hash) & (redirectionTable.count - 1)]), true)
    }

    /// The Toeplitz hash of what `classification` names; nil for unhashed frames.
    func hash(of classification: Classification) -> UInt32? {
        // rte_softrss reads the input as 32-bit words in host order.
        var words: (UInt32, UInt32, UInt32) = (0, 0, 0)
        let count: UInt32
        switch classification {
        case .ipv4TCP(let source, let destination, let sourcePort, let destinationPort):
            words = (source, destination, UInt32(sourcePort) << 16 | UInt32(destinationPort))
            count = 3
        case .ipv4(let source, let destination):
            words = (source, destination, 0)
            count = 2
        case .unhashed:
            return nil
        }
        let key = self.key
        return withUnsafeMutableBytes(of: &words) { input in
            rte_softrss(input.baseAddress!.assumingMemoryBound(to: UInt32.self), count, key)
        }
    }

    static func classify(_ frame: UnsafeRawBufferPointer) -> Classification {
        let ethernetHeader = 14
        guard frame.count >= ethernetHeader + 20, word16(frame, 12) == 0x0800 else { return .unhashed }
        let versionAndLength = frame[ethernetHeader]
        let headerLength = Int(versionAndLength & 0x0F) * 4
        guard versionAndLength >> 4 == 4, headerLength >= 20, frame.count >= ethernetHeader + headerLength else {
            return .unhashed
        }
        let source = word32(frame, ethernetHeader + 12)
        let destination = word32(frame, ethernetHeader + 16)
        let isFragment = word16(frame, ethernetHeader + 6) & 0x3FFF != 0  // more fragments, or an offset
        let transport = ethernetHeader + headerLength
        guard frame[ethernetHeader + 9] == 6, !isFragment, frame.count >= transport + 4 else {
            return .ipv4(source: source, destination: destination)
        }
        return .ipv4TCP(source: source, destination: destination,
                        sourcePort: word16(frame, transport), destinationPort: word16(frame, transport + 2))
    }

    private static func word16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    private static func word32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(word16(bytes, offset)) << 16 | UInt32(word16(bytes, offset + 2))
    }
}
