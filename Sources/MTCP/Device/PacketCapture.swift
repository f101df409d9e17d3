import Glibc

/// Writes the frames an engine receives and sends to a pcap file (the classic
/// format with nanosecond timestamps, link type Ethernet), which Wireshark and
/// tshark open. tcpdump cannot see kernel-bypass traffic, so this is how an
/// operator looks at the wire.
///
/// Records are gathered in a buffer and written when it fills, so capturing
/// costs a copy per frame and a system call per megabyte; it is a diagnostic
/// option, off by default. The file never grows beyond `maximumBytes`: frames
/// beyond it are counted in `framesNotCaptured` instead.
public struct PacketCapture {
    /// The nanosecond-resolution pcap magic number, written in host byte order.
    static let magic: UInt32 = 0xA1B2_3C4D
    static let linkTypeEthernet: UInt32 = 1
    static let snapshotLength: UInt32 = 65535
    static let fileHeaderSize = 24
    static let recordHeaderSize = 16

    public let path: String
    private let descriptor: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private var fileBytes = 0
    private let maximumBytes: Int
    /// Added to the engine's monotonic clock to give Unix time in nanoseconds.
    private let epochOffsetNanoseconds: Int64
    public private(set) var framesCaptured: UInt64 = 0
    public private(set) var framesNotCaptured: UInt64 = 0

    /// Creates (or truncates) `path` and writes the file header.
    /// - Parameters:
    ///   - epochOffsetNanoseconds: Unix time minus the engine clock, in nanoseconds.
    public init(path: String, maximumBytes: Int, epochOffsetNanoseconds: Int64,
                bufferSize: Int = 1 << 20) throws(DPDKError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DPDKError("cannot open the capture file \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.descriptor = descriptor
        self.maximumBytes = max(maximumBytes, Self.fileHeaderSize)
        self.epochOffsetNanoseconds = epochOffsetNanoseconds
        buffer = .allocate(byteCount: max(bufferSize, Self.fileHeaderSize + Self.recordHeaderSize + 65535),
                           alignment: 8)
        let header: [UInt32] = [Self.magic, 2 | 4 << 16, 0, 0, Self.snapshotLength, Self.linkTypeEthernet]
        for field in header {
            append(field)  // version 2.4 is two 16-bit fields: major, then minor
        }
    }

    /// Appends one frame, stamped with `time` on the engine's clock.
    public mutating func record(_ frame: UnsafeRawBufferPointer, at time: Instant) {
        let size = Self.recordHeaderSize + frame.count
        guard fileBytes + buffered + size <= maximumBytes else {
            framesNotCaptured &+= 1
            return
        }
        if buffered + size > buffer.count { writeBuffer() }
        let nanoseconds = Int64(time.nanoseconds) + epochOffsetNanoseconds
        append(UInt32(truncatingIfNeeded: nanoseconds / 1_000_000_000))
        append(UInt32(truncatingIfNeeded: nanoseconds % 1_000_000_000))
        append(UInt32(frame.count))
        append(UInt32(frame.count))
        UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<buffered + frame.count]).copyMemory(from: frame)
        buffered += frame.count
        framesCaptured &+= 1
    }

    /// Writes what is buffered and closes the file.
    public mutating func finish() {
        writeBuffer()
        close(descriptor)
        buffer.deallocate()
    }

    private mutating func append(_ value: UInt32) {
        buffer.storeBytes(of: value, toByteOffset: buffered, as: UInt32.self)
        buffered += 4
    }

    private mutating func writeBuffer() {
        var offset = 0
        while offset < buffered {
            let written = write(descriptor, buffer.baseAddress! + offset, buffered - offset)
            guard written > 0 else {
                if written < 0 && errno == EINTR { continue }
                break  // disk full or I/O error: the capture ends here, the engine goes on
            }
            offset += written
        }
        fileBytes += buffered
        buffered = 0
    }
}
