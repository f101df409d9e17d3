/// How a port spreads the frames it receives over its queues, and so which
/// core owns a flow: the one whose queue its frames arrive on.
public enum FlowSpreading: Sendable, Equatable {
    /// One queue, or queue pairs wired one to one to a peer's (`net_memif`:
    /// queue i of one process to queue i of the other, the peer answering on the
    /// queue a segment came in on): a flow's frames come back to the core that
    /// sent or received its first one, whatever its tuple.
    case paired
    /// A NIC with Toeplitz RSS under `ToeplitzHash.symmetricKey`: a flow's queue
    /// is `redirectionTable[hash % count]`, the table read from the port.
    case receiveSideScaling(redirectionTable: [UInt16])
    /// Spreading the stack cannot predict (the kernel's fanout hash behind
    /// `net_af_packet`, `net_af_xdp` on a multi-queue veth): a flow's owner is
    /// the symmetric Toeplitz hash of its tuple modulo the number of cores, and a
    /// frame that lands on another core is handed to the owner.
    case unpredictable(cores: Int)

    /// What the cores do about it, for the start-up line and the documentation.
    public var name: String {
        switch self {
        case .paired: "paired"
        case .receiveSideScaling: "steered"
        case .unpredictable: "forwarded"
        }
    }
}

extension FlowSpreading {
    /// Entries of the redirection table assumed where the port cannot be asked
    /// (`flow_spreading = rss`): 128, as the 82599 and most NICs have.
    public static let defaultRedirectionTableSize = 128

    /// The table drivers program by default: entry i is queue i mod `queues`.
    public static func defaultRedirectionTable(queues: Int, size: Int = FlowSpreading.defaultRedirectionTableSize) -> [UInt16] {
        (0..<size).map { UInt16($0 % queues) }
    }
}
