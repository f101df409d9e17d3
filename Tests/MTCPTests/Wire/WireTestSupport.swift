@testable import MTCP

/// Bytes from a hex string (whitespace ignored), for frames pasted from scapy.
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// SplitMix64: a seeded generator, so random tests fail the same way every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What `check` throws for every prefix of `packet`, from empty to whole (index =
/// prefix length), each prefix in a buffer of exactly its own size: nil if accepted.
func prefixErrors(of packet: [UInt8],
                  _ check: (UnsafeMutableRawBufferPointer) throws(WireError) -> Void) -> [WireError?] {
    (0...packet.count).map { length in
        var prefix = Array(packet[..<length])
        return prefix.withUnsafeMutableBytes { buffer -> WireError? in
            do throws(WireError) {
                try check(buffer)
                return nil
            } catch {
                return error
            }
        }
    }
}

/// Runs `body` on a copy of `packet` in its own buffer, so tests can mutate freely.
@discardableResult
func withPacket<R>(_ packet: [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
    var copy = packet
    return try copy.withUnsafeMutableBytes { try body($0) }
}
