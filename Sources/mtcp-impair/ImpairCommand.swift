import ArgumentParser
import Glibc
import Synchronization

/// Set by SIGINT/SIGTERM, polled by the forwarding loop (at least every 100 ms).
let stopRequested = Atomic<Bool>(false)

@main
struct ImpairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtcp-impair",
        abstract: "Bridges two interfaces with seeded loss, reordering, duplication and delay.",
        discussion: """
            The kernel here has no netem, so tests make a bad path with this instead: \
            it forwards every frame arriving on --left out of --right and back \
            (AF_PACKET raw sockets, promiscuous, no DPDK), deciding each frame's fate \
            with a generator seeded by --seed. Runs until SIGINT or SIGTERM, then \
            prints its counters per direction and exits 0. Frames waiting for their \
            delay are bounded by --queue-limit (beyond it they are dropped and counted).
            """)

    @Option(help: "Interface on one side.") var left: String
    @Option(help: "Interface on the other side.") var right: String
    @Option(help: "Probability that a frame is lost (0...1).") var loss: Double = 0
    @Option(help: "Probability that a frame is held back by --reorder-delay-ms so later ones overtake it.")
    var reorder: Double = 0
    @Option(help: "Probability that a frame is sent twice.") var duplicate: Double = 0
    @Option(help: "One-way delay of every frame in milliseconds.") var delayMs: Double = 0
    @Option(help: "Extra delay of a reordered frame in milliseconds.") var reorderDelayMs: Double = 10
    @Option(help: "Seed of the decisions (each direction has its own stream).") var seed: UInt64 = 1
    @Option(help: "Most frames waiting to be sent, both directions together.") var queueLimit: Int = 20_000

    func validate() throws {
        for (name, p) in [("loss", loss), ("reorder", reorder), ("duplicate", duplicate)] where !(0...1).contains(p) {
            throw ValidationError("--\(name) must be within 0...1")
        }
        guard delayMs >= 0, reorderDelayMs >= 0, delayMs <= 10_000, reorderDelayMs <= 10_000 else {
            throw ValidationError("delays must be within 0...10000 ms")
        }
        guard queueLimit > 0 else { throw ValidationError("--queue-limit must be positive") }
        guard left != right else { throw ValidationError("--left and --right must differ") }
    }

    func run() throws {
        let settings = Impairment.Settings(loss: loss, reorder: reorder, duplicate: duplicate,
                                           delay: UInt64(delayMs * 1e6), reorderDelay: UInt64(reorderDelayMs * 1e6))
        var forwarder: Forwarder
        do {
            forwarder = try Forwarder(left: PacketSocket(interface: left), right: PacketSocket(interface: right),
                                      settings: settings, seed: seed, queueLimit: queueLimit)
        } catch {
            print("mtcp-impair: \(error)")
            throw ExitCode.failure
        }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { _ in stopRequested.store(true, ordering: .relaxed) }
        }
        print("mtcp-impair: ready: \(left) <-> \(right), loss \(loss), reorder \(reorder), duplicate \(duplicate), "
              + "delay \(delayMs) ms, seed \(seed)")
        fflush(nil)
        forwarder.run { stopRequested.load(ordering: .relaxed) }
        print("mtcp-impair: stopped")
        print(forwarder.report)
        fflush(nil)
    }
}
