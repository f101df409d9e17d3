/// The Internet checksum (RFC 1071): the ones-complement of the ones-complement sum
/// of 16-bit big-endian words, used by IPv4, ICMP and TCP.
///
/// A value accumulates a running sum (`add`), and `checksum` finishes it. The sum is
/// kept unfolded in 64 bits: folding happens once, at the end, because ones-complement
/// addition is associative and commutative (RFC 1071 §2), so carries can be saved up.
/// Pieces added with `add(_: UnsafeRawBufferPointer)` must start at even offsets of
/// the checksummed message, as every header and payload boundary in IPv4 does.
public struct InternetChecksum: Hashable, Sendable {
    /// The sum of 16-bit words as host-order values, carries not yet folded back.
    /// Each `add` adds less than 2^33, so this cannot overflow in practice.
    @usableFromInline var sum: UInt64

    @inlinable public init() { sum = 0 }

    /// The sum of the TCP/UDP pseudo-header (RFC 9293 §3.1): source and destination
    /// address, zero byte and protocol, and the segment length (header plus data).
    @inlinable
    public static func pseudoHeaderSum(source: IPv4Address, destination: IPv4Address,
                                       protocol: IPProtocol, length: Int) -> InternetChecksum {
        var result = InternetChecksum()
        result.add(source.value)
        result.add(destination.value)
        result.add(UInt16(`protocol`.rawValue))
        result.add(UInt16(truncatingIfNeeded: length))
        return result
    }

    /// The IPv6 pseudo-header sum (RFC 8200 §8.1): both addresses, the
    /// upper-layer length as 32 bits and the next header value.
    @inlinable
    public static func pseudoHeaderSum(source: IPv6Address, destination: IPv6Address,
                                       protocol: IPProtocol, length: Int) -> InternetChecksum {
        var result = InternetChecksum()
        result.add(source.high)
        result.add(source.low)
        result.add(destination.high)
        result.add(destination.low)
        result.add(UInt32(truncatingIfNeeded: length))
        result.add(UInt16(`protocol`.rawValue))
        return result
    }

    /// Either family's pseudo-header sum, for code that holds an `IPAddress`.
    @inlinable
    public static func pseudoHeaderSum(source: IPAddress, destination: IPAddress,
                                       protocol: IPProtocol, length: Int) -> InternetChecksum {
        source.isIPv4
            ? pseudoHeaderSum(source: source.v4, destination: destination.v4, protocol: `protocol`, length: length)
            : pseudoHeaderSum(source: source.v6, destination: destination.v6, protocol: `protocol`, length: length)
    }

    /// Adds a 16-bit word given in host order.
    @inlinable public mutating func add(_ word: UInt16) { sum &+= UInt64(word) }

    /// Adds two 16-bit words given as one host-order value (an IPv4 address, a
    /// sequence number): 2^16 ≡ 1 modulo 2^16 - 1, so the halves need no splitting.
    @inlinable public mutating func add(_ words: UInt32) { sum &+= UInt64(words) }

    /// Adds four 16-bit words given as one host-order value (half an IPv6
    /// address), as its two 32-bit halves for the same reason.
    @inlinable public mutating func add(_ words: UInt64) { sum &+= (words & 0xFFFF_FFFF) &+ (words >> 32) }

    /// Buffers of at least this many bytes are summed mostly by the vector loop
    /// of `add(_:)` (the loops take the same time at about 300 bytes).
    @usableFromInline static let vectorSumMinimum = 256

    /// Adds `bytes`, which must start at an even offset of the message; an odd final
    /// byte is padded with a zero byte on the right (RFC 1071 §4.1).
    ///
    /// Words are loaded 64 bits at a time in host order and added with an
    /// end-around carry, an `add` and an `adc`: the accumulator is then a ones'
    /// complement sum modulo 2^64 - 1, which 2^16 - 1 divides, so it folds to the
    /// same 16 bits as the sum of the 16-bit words (RFC 1071 §2 (C), "parallel
    /// summation"). The sum is byte-order independent (§2 (B)): a little-endian
    /// host sums byte-swapped words and swaps the folded result once, instead of
    /// swapping every word. Four loads a turn; the tail is loaded as one 32-, one
    /// 16- and one 8-bit value rather than copied out: segments are short, so
    /// what a call costs besides its loop matters as much as the loop.
    ///
    /// Each `adc` waits for the carry of the one before, though: for a long
    /// buffer, 32-bit loads added into a plain 64-bit sum (no overflow before
    /// 16 GiB, no carry to chain) go first, and the compiler sums those in
    /// vector registers. More instructions (about 14 per 16 bytes against 11 per
    /// 32), less time: 58 ns for 1,460 bytes against 94 for the chain alone
    /// (micro-benchmark; 26 against 35 for 600 bytes). Short buffers keep the
    /// chain: as fast there (8 ns for 128 bytes, 16 for 300, with either loop)
    /// in fewer instructions.
    @inlinable
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var wide: UInt64 = 0
        @inline(__always) func addWithCarry(_ value: UInt64) {
            let (total, carried) = wide.addingReportingOverflow(value)
            wide = total &+ (carried ? 1 : 0)  // cannot carry again: total < 2^64 - 1 when carried
        }
        var offset = 0
        if count >= Self.vectorSumMinimum {
            while offset &+ 16 <= count {
                wide &+= UInt64(base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                wide &+= UInt64(base.loadUnaligned(fromByteOffset: offset &+ 4, as: UInt32.self))
                wide &+= UInt64(base.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt32.self))
                wide &+= UInt64(base.loadUnaligned(fromByteOffset: offset &+ 12, as: UInt32.self))
                offset &+= 16
            }
        }
        while offset &+ 32 <= count {
            addWithCarry(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            addWithCarry(base.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self))
            addWithCarry(base.loadUnaligned(fromByteOffset: offset &+ 16, as: UInt64.self))
            addWithCarry(base.loadUnaligned(fromByteOffset: offset &+ 24, as: UInt64.self))
            offset &+= 32
        }
        while offset &+ 8 <= count {
            addWithCarry(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset &+= 8
        }
        if offset &+ 4 <= count {
            addWithCarry(UInt64(base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset &+= 4
        }
        if offset &+ 2 <= count {
            addWithCarry(UInt64(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            offset &+= 2
        }
        if offset < count {
            // The padded word in host order, the byte first in memory either way:
            // built in a register (a copy through memory cost a stack guard a call).
            let padded = UInt16(littleEndian: UInt16(base.load(fromByteOffset: offset, as: UInt8.self)))
            addWithCarry(UInt64(padded))
        }
        add(UInt16(bigEndian: Self.fold(wide)))
    }

    /// The ones-complement sum folded to 16 bits (not complemented). This is what a
    /// NIC doing TCP checksum offload expects in the checksum field: the pseudo-header
    /// sum, which it then extends over the segment.
    @inlinable public var folded: UInt16 { Self.fold(sum) }

    /// The checksum to store: the complement of the folded sum.
    @inlinable public var checksum: UInt16 { ~folded }

    /// Whether the bytes summed so far, checksum field included, verify: their sum is
    /// all ones (negative zero) exactly when the stored checksum matches.
    @inlinable public var isValid: Bool { folded == 0xFFFF }

    /// Folds the carries of a 64-bit ones-complement sum back into 16 bits: each step
    /// at least halves the width; four steps bring any 64-bit value below 2^16.
    @inlinable
    static func fold(_ value: UInt64) -> UInt16 {
        var folded = (value & 0xFFFF_FFFF) &+ (value >> 32)
        folded = (folded & 0xFFFF) &+ (folded >> 16)
        folded = (folded & 0xFFFF) &+ (folded >> 16)
        folded = (folded & 0xFFFF) &+ (folded >> 16)
        return UInt16(truncatingIfNeeded: folded)
    }

    /// The checksum after a 16-bit field changed from `old` to `new`, by RFC 1624
    /// Eqn. 3, HC' = ~(~HC + ~m + m'), which (unlike Eqn. 2 of RFC 1141) agrees with
    /// recomputing from scratch (RFC 1624 §3). Used to rewrite a header in place
    /// (TTL, a port, an ICMP type) without summing the packet again.
    @inlinable
    public static func update(_ checksum: UInt16, replacing old: UInt16, with new: UInt16) -> UInt16 {
        ~fold(UInt64(~checksum) &+ UInt64(~old) &+ UInt64(new))
    }

    /// The checksum after a 32-bit field (an address, a sequence number) at an even
    /// offset changed from `old` to `new`: Eqn. 3 applied to each of its 16-bit words.
    @inlinable
    public static func update(_ checksum: UInt16, replacing old: UInt32, with new: UInt32) -> UInt16 {
        let high = update(checksum, replacing: UInt16(truncatingIfNeeded: old >> 16),
                          with: UInt16(truncatingIfNeeded: new >> 16))
        return update(high, replacing: UInt16(truncatingIfNeeded: old), with: UInt16(truncatingIfNeeded: new))
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Whether these bytes, with the checksum field among them, sum to all ones after
    /// `initial` (a pseudo-header sum, or nothing).
    @inlinable
    func hasValidChecksum(after initial: InternetChecksum = InternetChecksum()) -> Bool {
        var checksum = initial
        checksum.add(UnsafeRawBufferPointer(self))
        return checksum.isValid
    }

    /// Computes the checksum of these bytes after `initial` with the 16-bit field at
    /// `fieldOffset` taken as zero, and stores it there.
    @inlinable
    func fillChecksum(at fieldOffset: Int, after initial: InternetChecksum = InternetChecksum()) {
        storeBigEndian(UInt16(0), at: fieldOffset)
        var checksum = initial
        checksum.add(UnsafeRawBufferPointer(self))
        storeBigEndian(checksum.checksum, at: fieldOffset)
    }
}
