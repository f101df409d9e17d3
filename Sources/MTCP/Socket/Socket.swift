/// The application's handle on a socket of one core's `SocketContext`: a slot
/// of the context's socket table plus the slot's generation, so a handle kept
/// after `close` (and the slot's reuse) fails with `.invalidHandle` instead of
/// reaching somebody else's connection. A plain value: no object per socket.
public struct Socket: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    public let index: Int32
    public let generation: UInt32

    @inlinable init(index: Int32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    /// The handle as one integer, e.g. for an event poll registration's data.
    public var rawValue: UInt64 { UInt64(UInt32(bitPattern: index)) | UInt64(generation) << 32 }

    /// The handle `rawValue` stood for.
    public init(rawValue: UInt64) {
        index = Int32(bitPattern: UInt32(truncatingIfNeeded: rawValue))
        generation = UInt32(truncatingIfNeeded: rawValue >> 32)
    }

    public var description: String { "socket#\(index).\(generation)" }
}

/// An IPv4 address and TCP port (what `getsockname`/`getpeername` return).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// Either family's address.
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public init(address: IPv4Address, port: UInt16) {
        self.init(address: IPAddress(address), port: port)
    }

    /// "198.18.0.1:80", "[2001:2::1]:80" (RFC 3986's form for IPv6).
    public var description: String { address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)" }
}

/// Which direction `shutdown` closes (SHUT_RD, SHUT_WR, SHUT_RDWR).
public enum ShutdownDirection: Sendable {
    /// Further reads return end of stream; bytes still arriving are discarded.
    case read
    /// A FIN follows the data already written (half-close).
    case write
    case both
}
