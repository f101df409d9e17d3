/// Appends response bytes to a fixed buffer the caller owns (a scratch area, a send
/// buffer, a log buffer), never allocating.
///
/// Running out of room is not an error at each append: the writer stops writing and
/// remembers it, and the caller checks `overflowed` once at the end. That keeps
/// builders of many small parts free of error handling at every step.
public struct HTTPByteWriter {
    /// Where the bytes go.
    public let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far.
    public private(set) var count = 0
    /// Whether an append did not fit (and was dropped whole).
    public private(set) var overflowed = false

    /// A writer at the start of `buffer`.
    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<count]) }

    /// Reserves `length` bytes and returns where they start, or nil (and overflows).
    @inline(__always)
    mutating func reserve(_ length: Int) -> UnsafeMutableRawPointer? {
        guard !overflowed, length <= buffer.count - count, let base = buffer.baseAddress else {
            overflowed = true
            return nil
        }
        defer { count += length }
        return base + count
    }

    /// Appends raw bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let target = reserve(bytes.count), let source = bytes.baseAddress else { return }
        target.copyMemory(from: source, byteCount: bytes.count)
    }

    /// Appends an ASCII literal.
    public mutating func append(_ literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends one byte.
    public mutating func append(byte: UInt8) {
        reserve(1)?.storeBytes(of: byte, as: UInt8.self)
    }

    /// Appends a non-negative integer in decimal.
    public mutating func append(decimal value: Int) {
        precondition(value >= 0, "only non-negative numbers are written")
        var digits = 1
        var rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        guard let target = reserve(digits) else { return }
        var remaining = value
        for index in stride(from: digits - 1, through: 0, by: -1) {
            target.storeBytes(of: UInt8(48 + remaining % 10), toByteOffset: index, as: UInt8.self)
            remaining /= 10
        }
    }

    /// Appends an unsigned integer in lower-case hexadecimal, without leading zeros.
    public mutating func append(hex value: UInt64) {
        var digits = 1
        while digits < 16, value >> (4 * UInt64(digits)) != 0 { digits += 1 }
        guard let target = reserve(digits) else { return }
        for index in 0..<digits {
            let nibble = UInt8(truncatingIfNeeded: value >> (4 * UInt64(digits - 1 - index))) & 0xf
            target.storeBytes(of: nibble < 10 ? 48 + nibble : 87 + nibble, toByteOffset: index, as: UInt8.self)
        }
    }

    /// Appends an IPv4 address, given as its 32 bits, in dotted-decimal form.
    public mutating func append(dottedQuad value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            append(decimal: Int(value >> UInt32(shift) & 0xFF))
            if shift > 0 { append(byte: ASCII.dot) }
        }
    }

    /// Appends the status line `HTTP/1.1 <code> <reason>\r\n`.
    public mutating func appendStatusLine(_ status: HTTPStatus) {
        append("HTTP/1.1 ")
        append(decimal: Int(status.rawValue))
        append(byte: ASCII.space)
        append(status.reasonPhrase)
        append("\r\n")
    }
}
