import CZlib
import Foundation
import Histogram

/// HdrHistogram's compressed V2 encoding, in base64: the form HdrHistogram's
/// own tools read (the histogram column of an `.hlog` interval log, Java's
/// `Histogram.decodeFromCompressedByteBuffer`, Python's `HdrHistogram.decode`).
/// Runs from several hosts carry it in their JSON reports so that `merge` adds
/// their counts bucket by bucket: percentiles of the merged histogram are exact,
/// unlike any average of percentiles. Used after a run only (Foundation's
/// base64, zlib).
///
/// The format, from HdrHistogram's published encoding: a big-endian header
/// (cookie 0x1c849314 and the length of what follows) and a zlib stream of the
/// uncompressed encoding: a 40-byte big-endian header (cookie 0x1c849313, the
/// payload's length, normalizing index offset 0, significant digits, lowest
/// discernible and highest trackable values, and the integer-to-double ratio
/// 1.0), then the counts array in index order, each count a ZigZag LEB128
/// number of at most 9 bytes (the ninth carries 8 bits), a run of N > 1 empty
/// buckets written as -N.
enum HistogramEncoding {
    static let compressedCookie: UInt32 = 0x1c84_9314
    static let payloadCookie: UInt32 = 0x1c84_9313
    /// Cookies carry the word size in bits 4-7: they are compared without it.
    static let cookieWordSizeBits: UInt32 = 0xf0
    static let payloadHeaderBytes = 40

    static func encode(_ histogram: Histogram<UInt64>) -> String {
        let layout = BucketLayout(lowest: histogram.lowestDiscernibleValue,
                                  digits: Int(histogram.numberOfSignificantValueDigits.rawValue))
        var counts: [UInt64] = []
        for bucket in histogram.recordedValues() {
            let index = layout.index(of: bucket.value)
            if counts.count <= index { counts += repeatElement(0, count: index + 1 - counts.count) }
            counts[index] += UInt64(bucket.count)
        }
        var payload: [UInt8] = []
        var index = 0
        while index < counts.count {
            var zeros = 0
            while index + zeros < counts.count && counts[index + zeros] == 0 { zeros += 1 }
            if zeros > 1 {
                appendZigZag(-Int64(zeros), to: &payload)
                index += zeros
            } else {
                appendZigZag(Int64(counts[index]), to: &payload)
                index += 1
            }
        }
        var uncompressed: [UInt8] = []
        appendBigEndian(payloadCookie, to: &uncompressed)
        appendBigEndian(UInt32(payload.count), to: &uncompressed)
        appendBigEndian(UInt32(0), to: &uncompressed)  // normalizing index offset
        appendBigEndian(UInt32(histogram.numberOfSignificantValueDigits.rawValue), to: &uncompressed)
        appendBigEndian(histogram.lowestDiscernibleValue, to: &uncompressed)
        appendBigEndian(histogram.highestTrackableValue, to: &uncompressed)
        appendBigEndian(Double(1).bitPattern, to: &uncompressed)
        uncompressed += payload
        let compressed = deflate(uncompressed)
        var encoded: [UInt8] = []
        appendBigEndian(compressedCookie, to: &encoded)
        appendBigEndian(UInt32(compressed.count), to: &encoded)
        return Data(encoded + compressed).base64EncodedString()
    }

    static func decode(_ text: String) throws(HistogramDecodingError) -> Histogram<UInt64> {
        guard let data = Data(base64Encoded: text) else { throw HistogramDecodingError("not base64") }
        var outer = ByteReader(Array(data))
        guard try outer.uint32() & ~cookieWordSizeBits == compressedCookie & ~cookieWordSizeBits else {
            throw HistogramDecodingError("not a compressed V2 histogram (cookie)")
        }
        let length = Int(try outer.uint32())
        guard length == outer.remaining else {
            throw HistogramDecodingError("length \(length) but \(outer.remaining) bytes follow")
        }
        var reader = ByteReader(try inflate(Array(outer.rest)))
        guard try reader.uint32() & ~cookieWordSizeBits == payloadCookie & ~cookieWordSizeBits else {
            throw HistogramDecodingError("not a V2 histogram payload (cookie)")
        }
        let payloadLength = Int(try reader.uint32())
        guard try reader.uint32() == 0 else { throw HistogramDecodingError("normalizing index offsets are not supported") }
        let digits = try reader.uint32()
        let lowest = try reader.uint64()
        let highest = try reader.uint64()
        _ = try reader.uint64()  // integer-to-double ratio: values are integers here
        guard let significant = SignificantDigits(rawValue: Int8(truncatingIfNeeded: digits)), lowest >= 1,
              highest >= 2 * lowest, payloadLength == reader.remaining else {
            throw HistogramDecodingError("bad header (digits \(digits), range \(lowest)...\(highest))")
        }
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: lowest, highestTrackableValue: highest,
                                          numberOfSignificantValueDigits: significant)
        let layout = BucketLayout(lowest: lowest, digits: Int(digits))
        var index = 0
        while reader.remaining > 0 {
            let count = try reader.zigZag()
            if count < 0 {
                index += Int(-count)
                continue
            }
            // The bucket's highest value (but a trackable one): what HdrHistogram reports for a
            // percentile in it (and this histogram caps a percentile at the highest value recorded).
            let value = min(layout.highestValue(at: index), highest)
            guard layout.value(at: index) <= highest, count == 0 || histogram.record(value, count: UInt64(count)) else {
                throw HistogramDecodingError("a count beyond the highest trackable value")
            }
            index += 1
        }
        return histogram
    }

    private static func appendZigZag(_ value: Int64, to bytes: inout [UInt8]) {
        var rest = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        for _ in 0..<8 {
            guard rest >= 0x80 else {
                bytes.append(UInt8(rest))
                return
            }
            bytes.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private static func appendBigEndian<Value: FixedWidthInteger>(_ value: Value, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
    }

    private static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&output, &length, bytes, uLong(bytes.count), Z_BEST_COMPRESSION)
        precondition(status == Z_OK, "zlib compress2 failed (\(status)) with room for the worst case")
        return Array(output[..<Int(length)])
    }

    /// A zlib stream whose inflated length is not written anywhere: tried in
    /// larger buffers until it fits (a histogram's counts take kilobytes).
    private static func inflate(_ bytes: [UInt8]) throws(HistogramDecodingError) -> [UInt8] {
        var capacity = 64 << 10
        while capacity <= 64 << 20 {
            var output = [UInt8](repeating: 0, count: capacity)
            var length = uLong(capacity)
            switch uncompress(&output, &length, bytes, uLong(bytes.count)) {
            case Z_OK: return Array(output[..<Int(length)])
            case Z_BUF_ERROR: capacity *= 4
            default: throw HistogramDecodingError("the zlib stream is corrupt")
            }
        }
        throw HistogramDecodingError("the counts inflate to more than 64 MiB")
    }
}

struct HistogramDecodingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = "histogram: " + description }
}

/// HdrHistogram's bucket arithmetic: which index of the counts array holds a
/// value, and the lowest value an index stands for. Each bucket doubles the
/// range of the one before and is split into `subBucketCount` slots of equal
/// width, enough for `digits` significant decimal digits.
struct BucketLayout {
    let unitMagnitude: Int
    let subBucketHalfCountMagnitude: Int

    init(lowest: UInt64, digits: Int) {
        unitMagnitude = 63 - lowest.leadingZeroBitCount
        var largestSingleUnitResolution: UInt64 = 2
        for _ in 0..<digits { largestSingleUnitResolution *= 10 }
        let subBucketCountMagnitude = 64 - (largestSingleUnitResolution - 1).leadingZeroBitCount
        subBucketHalfCountMagnitude = max(subBucketCountMagnitude, 1) - 1
    }

    private var subBucketHalfCount: Int { 1 << subBucketHalfCountMagnitude }

    func index(of value: UInt64) -> Int {
        let subBucketMask = (UInt64(2 * subBucketHalfCount) - 1) << UInt64(unitMagnitude)
        let leadingZeroCountBase = 64 - unitMagnitude - subBucketHalfCountMagnitude - 1
        let bucket = leadingZeroCountBase - (value | subBucketMask).leadingZeroBitCount
        let subBucket = Int(value >> UInt64(bucket + unitMagnitude))
        return ((bucket + 1) << subBucketHalfCountMagnitude) + subBucket - subBucketHalfCount
    }

    /// The lowest value of slot `index`.
    func value(at index: Int) -> UInt64 { range(at: index).lowerBound }

    /// The highest value of slot `index`.
    func highestValue(at index: Int) -> UInt64 { range(at: index).upperBound }

    private func range(at index: Int) -> ClosedRange<UInt64> {
        var bucket = (index >> subBucketHalfCountMagnitude) - 1
        var subBucket = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucket < 0 {
            subBucket -= subBucketHalfCount
            bucket = 0
        }
        let lowest = UInt64(subBucket) << UInt64(bucket + unitMagnitude)
        return lowest...(lowest + (1 << UInt64(bucket + unitMagnitude)) - 1)
    }
}

/// Big-endian reads from a byte array, each checked against its end.
private struct ByteReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }
    var rest: ArraySlice<UInt8> { bytes[position...] }

    mutating func uint32() throws(HistogramDecodingError) -> UInt32 { UInt32(try bigEndian(4)) }
    mutating func uint64() throws(HistogramDecodingError) -> UInt64 { try bigEndian(8) }

    private mutating func bigEndian(_ count: Int) throws(HistogramDecodingError) -> UInt64 {
        guard remaining >= count else { throw HistogramDecodingError("truncated") }
        defer { position += count }
        return bytes[position..<position + count].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A ZigZag LEB128 number of at most 9 bytes.
    mutating func zigZag() throws(HistogramDecodingError) -> Int64 {
        var value: UInt64 = 0
        for byteIndex in 0..<9 {
            guard remaining > 0 else { throw HistogramDecodingError("truncated count") }
            let byte = UInt64(bytes[position])
            position += 1
            if byteIndex == 8 {
                value |= byte << 56
                break
            }
            value |= (byte & 0x7f) << UInt64(7 * byteIndex)
            if byte & 0x80 == 0 { break }
        }
        return Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
}
