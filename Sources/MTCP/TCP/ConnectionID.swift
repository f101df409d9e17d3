/// The application's handle on a connection: a slot in the engine's connection
/// pool plus that slot's generation, so a handle kept after its connection ended
/// (and the slot was reused) is detected instead of touching a stranger's data.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let index: Int32
    public let generation: UInt32

    @inlinable init(index: Int32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    public var description: String { "conn#\(index).\(generation)" }
}

/// The application's handle on a listening port.
public struct ListenerID: Hashable, Sendable {
    public let index: Int
}
