/// The TCP options the stack understands, as a plain value without heap storage:
/// maximum segment size (RFC 9293 §3.7.1), window scale (RFC 7323 §2), SACK-permitted
/// and SACK blocks (RFC 2018), and timestamps (RFC 7323 §3).
public struct TCPOptions: Hashable, Sendable {
    public var maximumSegmentSize: UInt16?
    /// The shift count of window scaling; parsing clamps it to `maximumWindowScale`.
    public var windowScale: UInt8?
    public var sackPermitted: Bool
    public var timestamp: TCPTimestamp?
    public var sackBlocks: SACKBlockList

    /// Size of the options area at most: a data offset of 15 words minus the fixed header.
    public static let maximumLength = 40
    /// RFC 7323 §2.3: a larger shift would let the window exceed 2^30, so receivers
    /// use 14 instead (and Linux does the same).
    public static let maximumWindowScale: UInt8 = 14

    public init(maximumSegmentSize: UInt16? = nil, windowScale: UInt8? = nil, sackPermitted: Bool = false,
                timestamp: TCPTimestamp? = nil, sackBlocks: SACKBlockList = SACKBlockList()) {
        self.maximumSegmentSize = maximumSegmentSize
        self.windowScale = windowScale
        self.sackPermitted = sackPermitted
        self.timestamp = timestamp
        self.sackBlocks = sackBlocks
    }

    /// NOP, NOP, timestamp kind and length, as a host-order load of those four bytes.
    /// Computed, not a stored `static let`: a global's lazy initialization check
    /// on every segment cost more than the byte swap.
    @inline(__always) private static var alignedTimestampPrefix: UInt32 { UInt32(bigEndian: 0x0101_080A) }

    /// Option kinds (IANA "TCP Option Kind Numbers").
    private enum Kind {
        static let endOfList: UInt8 = 0
        static let noOperation: UInt8 = 1
        static let maximumSegmentSize: UInt8 = 2
        static let windowScale: UInt8 = 3
        static let sackPermitted: UInt8 = 4
        static let sack: UInt8 = 5
        static let timestamp: UInt8 = 8
    }

    /// Parses an options area (RFC 9293 §3.2): end-of-list stops the parse, no-ops are
    /// skipped, and every other option needs a length byte of at least 2 that stays
    /// inside the area. Known kinds must have their exact length (SACK: 2 + 8n with
    /// n in 1...4), else the list is `WireError.malformedOption`; unknown kinds are
    /// skipped. A repeated option overrides the earlier one.
    public init(parsing bytes: UnsafeMutableRawBufferPointer) throws(WireError) {
        self.init()
        // Every segment of an established connection that negotiated timestamps
        // carries them alone, laid out as RFC 7323 Appendix A suggests (and as Linux
        // and we send them): NOP, NOP, kind 8, length 10. Recognised in one compare.
        if bytes.count == 12, bytes.loadUnaligned(as: UInt32.self) == Self.alignedTimestampPrefix {
            timestamp = TCPTimestamp(value: bytes.bigEndian(at: 4), echoReply: bytes.bigEndian(at: 8))
            return
        }
        var offset = 0
        while offset < bytes.count {
            let kind = bytes[offset]
            if kind == Kind.endOfList { break }
            if kind == Kind.noOperation {
                offset += 1
                continue
            }
            guard offset + 1 < bytes.count else { throw .malformedOption }
            let length = Int(bytes[offset + 1])
            guard length >= 2, offset + length <= bytes.count else { throw .malformedOption }
            let value = offset + 2
            switch kind {
            case Kind.maximumSegmentSize:
                guard length == 4 else { throw .malformedOption }
                maximumSegmentSize = bytes.bigEndian(at: value)
            case Kind.windowScale:
                guard length == 3 else { throw .malformedOption }
                windowScale = Swift.min(bytes[value], Self.maximumWindowScale)
            case Kind.sackPermitted:
                guard length == 2 else { throw .malformedOption }
                sackPermitted = true
            case Kind.sack:
                let blockCount = (length - 2) / 8
                guard (length - 2) % 8 == 0, (1...SACKBlockList.capacity).contains(blockCount) else {
                    throw .malformedOption
                }
                sackBlocks = SACKBlockList()
                for block in 0..<blockCount {
                    let edges = value + 8 * block
                    sackBlocks.append(SACKBlock(left: bytes.bigEndian(at: edges), right: bytes.bigEndian(at: edges + 4)))
                }
            case Kind.timestamp:
                guard length == 10 else { throw .malformedOption }
                timestamp = TCPTimestamp(value: bytes.bigEndian(at: value), echoReply: bytes.bigEndian(at: value + 4))
            default:
                break
            }
            offset += length
        }
    }

    /// Bytes `emit` writes for everything except SACK blocks; each option is padded
    /// with no-ops to a four-byte boundary, as Linux lays them out.
    @inline(__always)
    private var lengthWithoutSACK: Int {
        (maximumSegmentSize == nil ? 0 : 4)
            + (timestamp != nil ? 12 : sackPermitted ? 4 : 0)
            + (windowScale == nil ? 0 : 4)
    }

    /// SACK blocks that fit after `otherOptions` bytes of the other options (two
    /// no-ops, kind and length take four bytes); the first ones are kept, which RFC
    /// 2018 §4 says are the most recent.
    @inline(__always)
    private func emittedSACKBlockCount(after otherOptions: Int) -> Int {
        guard !sackBlocks.isEmpty else { return 0 }
        return Swift.min(sackBlocks.count, Swift.max(0, (Self.maximumLength - otherOptions - 4) / 8))
    }

    /// Bytes `emit` writes: a multiple of four, at most `maximumLength`. Asked
    /// for several times per segment sent: the other options' length once.
    public var encodedLength: Int {
        let otherOptions = lengthWithoutSACK
        let blocks = emittedSACKBlockCount(after: otherOptions)
        return otherOptions + (blocks == 0 ? 0 : 4 + 8 * blocks)
    }

    /// Writes the options at the start of `bytes` and returns how many bytes that took
    /// (`encodedLength`). The layout is Linux's: MSS, SACK-permitted, timestamps,
    /// window scale, SACK blocks, each aligned to four bytes with no-ops, so the total
    /// needs no end-of-list padding. SACK blocks beyond the room left are not sent.
    @discardableResult
    public func emit(into bytes: UnsafeMutableRawBufferPointer) -> Int {
        precondition(bytes.count >= encodedLength, "buffer too small for the TCP options")
        var writer = Writer(bytes: bytes)
        if let maximumSegmentSize {
            writer.option(Kind.maximumSegmentSize, length: 4)
            writer.word(maximumSegmentSize)
        }
        if sackPermitted, timestamp != nil {
            writer.option(Kind.sackPermitted, length: 2)
        } else if sackPermitted {
            writer.noOperations(2)
            writer.option(Kind.sackPermitted, length: 2)
        } else if timestamp != nil {
            writer.noOperations(2)
        }
        if let timestamp {
            writer.option(Kind.timestamp, length: 10)
            writer.word(timestamp.value)
            writer.word(timestamp.echoReply)
        }
        if let windowScale {
            writer.noOperations(1)
            writer.option(Kind.windowScale, length: 3)
            writer.byte(windowScale)
        }
        let blocks = emittedSACKBlockCount(after: lengthWithoutSACK)
        if blocks > 0 {
            writer.noOperations(2)
            writer.option(Kind.sack, length: UInt8(2 + 8 * blocks))
            for block in sackBlocks.prefix(blocks) {
                writer.word(block.left)
                writer.word(block.right)
            }
        }
        return writer.offset
    }

    /// Appends big-endian values to a buffer; `emit` checked the room beforehand.
    private struct Writer {
        let bytes: UnsafeMutableRawBufferPointer
        var offset = 0

        mutating func byte(_ value: UInt8) {
            bytes[offset] = value
            offset += 1
        }

        mutating func word<T: FixedWidthInteger>(_ value: T) {
            bytes.storeBigEndian(value, at: offset)
            offset += MemoryLayout<T>.size
        }

        mutating func option(_ kind: UInt8, length: UInt8) {
            byte(kind)
            byte(length)
        }

        mutating func noOperations(_ count: Int) {
            for _ in 0..<count { byte(Kind.noOperation) }
        }
    }
}
