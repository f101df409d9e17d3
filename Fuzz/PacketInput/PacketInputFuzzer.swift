// libFuzzer target for the stack's packet input path: every input is one frame,
// delivered to an engine on the virtual link. A trap, a sanitizer report or a lost
// buffer (the pool invariant below) is a finding.
//
// Built with `make fuzz` (-sanitize=fuzzer,address -DFUZZING), `main` hands over
// to libFuzzer's driver. Built normally, the same program is a replayer:
// `mtcp-fuzz-packet FILE...` runs each file through the same path, which is how
// findings become regression runs.
import FuzzDriver
import Glibc
import MTCP

/// The engine under test, kept across inputs so that state builds up as it does in
/// a real run (ARP cache, pending resolutions, timers).
struct PacketInputHarness: ~Copyable {
    static let stackMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
    static let peerMAC = MACAddress(0x02, 0, 0, 0, 0, 0x02)

    let link = VirtualLink(seed: 1)
    var engine: Engine<VirtualPort>
    var injector: VirtualPort
    let batch = UnsafeMutableBufferPointer<PacketBuffer>.allocate(capacity: 64)

    init() {
        var configuration = EngineConfiguration(address: IPv4Network("198.18.0.1/24")!)
        // Dual stack, as the shipped mtcp.conf runs: IPv6 input reaches the
        // extension-header walk, ICMPv6 and Neighbor Discovery. Without duplicate
        // address detection, so that one input forging an answer to it does not
        // take IPv6 down for every input after it; with a static neighbour, so
        // that forged advertisements for it reach the spoofing check.
        configuration.ipv6 = IPv6Configuration(addresses: [IPv6Network("2001:2::1/64")!],
                                               staticNeighbours: [.init(address: IPv6Address("2001:2::9")!,
                                                                        mac: MACAddress(0x02, 0, 0, 0, 0, 0x09))],
                                               detectsDuplicates: false)
        engine = Engine(device: link.makePort(macAddress: Self.stackMAC, bufferCount: 256), configuration: configuration)
        injector = link.makePort(macAddress: Self.peerMAC, bufferCount: 256)
    }

    mutating func run(_ input: UnsafeRawBufferPointer) {
        guard var buffer = injector.allocate() else { fatalError("injector pool exhausted") }
        buffer.length = min(input.count, buffer.capacity)
        if buffer.length > 0 { buffer.bytes.copyMemory(from: input.baseAddress!, byteCount: buffer.length) }
        batch[0] = buffer
        _ = injector.transmit(UnsafeMutableBufferPointer(rebasing: batch[0..<1]))
        engine.poll(now: link.now)
        engine.flush(now: link.now)
        link.now = link.now + .milliseconds(1)
        // Whatever the engine sent comes back to the injector: return it to its pool.
        while case let received = injector.receive(into: batch), received > 0 {
            for index in 0..<received { injector.release(batch[index]) }
        }
        let accounted = engine.device.availableBuffers + engine.bufferedFrames
        guard accounted == engine.device.totalBuffers else {
            fatalError("buffer leak: \(engine.device.totalBuffers - accounted) buffer(s) unaccounted for")
        }
    }
}

nonisolated(unsafe) var harness = PacketInputHarness()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPacketInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    harness.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

@main
enum PacketInputFuzzer {
    static func main() {
        FuzzDriver.main(program: "mtcp-fuzz-packet", fuzzPacketInput)
    }
}
