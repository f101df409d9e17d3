/// A 48-bit Ethernet address kept in the low bits of a UInt64, so that copies and
/// comparisons are single integer operations.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    @inlinable public init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

    @inlinable public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        value = UInt64(b0) << 40 | UInt64(b1) << 32 | UInt64(b2) << 24
            | UInt64(b3) << 16 | UInt64(b4) << 8 | UInt64(b5)
    }

    /// Parses "aa:bb:cc:dd:ee:ff" (or with "-"); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(omittingEmptySubsequences: false) { $0 == ":" || $0 == "-" }
        guard parts.count == 6 else { return nil }
        var result: UInt64 = 0
        for part in parts {
            // Check the digits first: UInt8(_:radix:) would accept a sign ("+2").
            guard part.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else { return nil }
            result = result << 8 | UInt64(byte)
        }
        value = result
    }

    /// Reads six bytes at `pointer` (network order).
    @inlinable public init(loadingFrom pointer: UnsafeRawPointer) {
        var result: UInt64 = 0
        for index in 0..<6 { result = result << 8 | UInt64(pointer.load(fromByteOffset: index, as: UInt8.self)) }
        value = result
    }

    /// Writes six bytes at `pointer` (network order).
    @inlinable public func store(to pointer: UnsafeMutableRawPointer) {
        for index in 0..<6 {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * index)),
                               toByteOffset: index, as: UInt8.self)
        }
    }

    public static let broadcast = MACAddress(0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(0)

    /// Group bit set: broadcast or multicast.
    @inlinable public var isMulticast: Bool { value & 0x0100_0000_0000 != 0 }
    @inlinable public var isBroadcast: Bool { value == 0xFFFF_FFFF_FFFF }

    public var description: String {
        (0..<6).map { index in
            let byte = UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * index))
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined(separator: ":")
    }
}
