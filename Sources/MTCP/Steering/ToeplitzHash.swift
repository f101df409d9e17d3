/// The Toeplitz hash of receive-side scaling (Microsoft's RSS specification, as
/// NICs such as the 82599 compute it) over an IPv4 TCP flow: the input is the
/// source address, destination address, source port and destination port in
/// network byte order, 12 bytes; bit k of the input, when set, XORs in the 32
/// bits of the key that start at bit k.
///
/// The stack needs it to know, without the NIC, which queue a flow's frames
/// arrive on: to choose the source ports of the connections a core opens so
/// that their replies come back to it, and to name a flow's owner on ports
/// whose spreading it cannot predict. Each input byte's contribution depends
/// only on its position and value, so the key's windows are folded at set-up
/// into one table per input byte (12 x 256 words): a hash is 12 loads and XORs.
///
/// IPv6 TCP ("IPv6 with TCP": 16-byte addresses, then the ports, 36 bytes) uses
/// 36 rows; IPv4's 12 are the first of them, so an IPv4 hash touches no more
/// memory than before. An IPv6 hash needs a key of at least 40 bytes.
public struct ToeplitzHash: ~Copyable {
    /// Bytes of an IPv4 TCP input: two addresses, two ports.
    static var inputLength: Int { 12 }
    /// Bytes of an IPv6 TCP input.
    static var ipv6InputLength: Int { 36 }
    /// The contribution of each (input position, byte value), position-major.
    private let table: UnsafeMutablePointer<UInt32>

    /// A key of any length NICs take (40 bytes on most, 52 on i40e and ice; at
    /// least 16: the last input bit reads 32 key bits from bit 95 on, so the
    /// bytes after the 16th never touch an IPv4 TCP hash).
    public init(key: [UInt8]) {
        precondition(key.count >= Self.inputLength + 4, "a Toeplitz key for IPv4 TCP needs at least 16 bytes")
        table = .allocate(capacity: Self.ipv6InputLength * 256)
        for position in 0..<Self.ipv6InputLength {
            let windows = (0..<8).map { Self.window(of: key, atBit: position * 8 + $0) }
            for value in 0..<256 {
                var word: UInt32 = 0
                for bit in 0..<8 where value & (0x80 >> bit) != 0 { word ^= windows[bit] }
                table[position * 256 + value] = word
            }
        }
    }

    deinit { table.deallocate() }

    /// The 32 key bits that start at bit `offset` (bit 0 = the first byte's top bit).
    private static func window(of key: [UInt8], atBit offset: Int) -> UInt32 {
        var bits: UInt64 = 0
        for index in 0..<5 {
            let byte = offset / 8 + index
            bits = bits << 8 | UInt64(byte < key.count ? key[byte] : 0)
        }
        return UInt32(truncatingIfNeeded: bits >> (8 - UInt64(offset % 8)))
    }

    /// The hash of a TCP segment from `source`:`sourcePort` to `destination`:`destinationPort`
    /// (RSS's "IPv4 with TCP").
    @inline(__always)
    public func hash(source: IPv4Address, destination: IPv4Address,
                     sourcePort: UInt16, destinationPort: UInt16) -> UInt32 {
        hashAddresses(source: source, destination: destination)
            ^ mix(UInt32(sourcePort) << 16 | UInt32(destinationPort), at: 8)
    }

    /// What destination port `port` adds to a hash (input bytes 10 and 11). The
    /// hash is linear in its input, so a tuple's hash is that of the tuple with
    /// destination port 0 XOR this: a core choosing the local port of a
    /// connection (the destination of its replies) hashes the rest once and
    /// tries each candidate with two loads.
    @inline(__always)
    public func destinationPortContribution(_ port: UInt16) -> UInt32 {
        let row = table + 10 * 256
        return row[Int(port >> 8)] ^ row[256 + Int(port & 0xFF)]
    }

    /// RSS's "IPv6 with TCP" (the NIC's `RTE_ETH_RSS_NONFRAG_IPV6_TCP`).
    @inline(__always)
    public func hash(source: IPv6Address, destination: IPv6Address,
                     sourcePort: UInt16, destinationPort: UInt16) -> UInt32 {
        mix(source.high, at: 0) ^ mix(source.low, at: 8) ^ mix(destination.high, at: 16) ^ mix(destination.low, at: 24)
            ^ mix(UInt32(sourcePort) << 16 | UInt32(destinationPort), at: 32)
    }

    /// `destinationPortContribution` for IPv6 (input bytes 34 and 35).
    @inline(__always)
    public func ipv6DestinationPortContribution(_ port: UInt16) -> UInt32 {
        let row = table + 34 * 256
        return row[Int(port >> 8)] ^ row[256 + Int(port & 0xFF)]
    }

    /// The hash over the addresses alone (RSS's "IPv4": fragments, non-TCP).
    @inline(__always)
    public func hashAddresses(source: IPv4Address, destination: IPv4Address) -> UInt32 {
        mix(source.value, at: 0) ^ mix(destination.value, at: 4)
    }

    /// The contribution of the four input bytes of `word` (big-endian) at input offset `position`.
    @inline(__always)
    private func mix(_ word: UInt32, at position: Int) -> UInt32 {
        let row = table + position * 256
        return row[Int(word >> 24)] ^ row[256 + Int(word >> 16 & 0xFF)]
            ^ row[512 + Int(word >> 8 & 0xFF)] ^ row[768 + Int(word & 0xFF)]
    }

    @inline(__always)
    private func mix(_ word: UInt64, at position: Int) -> UInt32 {
        mix(UInt32(truncatingIfNeeded: word >> 32), at: position) ^ mix(UInt32(truncatingIfNeeded: word), at: position + 4)
    }

    /// The key 0x6D5A repeated (Woo and Park, "Scalable TCP Session Monitoring
    /// with Symmetric Receive-side Scaling", 2012): its windows repeat every 16
    /// bits, so swapping the addresses and the ports leaves the hash unchanged and
    /// both directions of a flow land on one queue. The stack programs it into
    /// every RSS port it drives, at the key length the port takes: the pattern
    /// stays symmetric at any length.
    public static func symmetricKey(length: Int) -> [UInt8] {
        (0..<length).map { $0 % 2 == 0 ? 0x6D : 0x5A }
    }

    /// `symmetricKey(length:)` at the common 40 bytes.
    public static let symmetricKey = symmetricKey(length: 40)
}
