import MTCP

/// What runs on an engine's core beside the stack: it opens its listeners or
/// connections at start, then takes each iteration's batch of events.
public protocol EngineApplication: ~Copyable {
    mutating func start<Device: PacketDevice>(_ engine: inout Engine<Device>) throws
    mutating func handle<Device: PacketDevice>(_ engine: inout Engine<Device>, now: Instant)
}
