/// Which core owns a flow, as one core sees it: by the port's `FlowSpreading`
/// and the symmetric Toeplitz hash of the flow's tuple. Both directions of a
/// flow hash alike, so it makes no difference which side is "source".
/// Visible outside the module only as SPI, for the hot-path micro-benchmarks
/// (`@_spi(Benchmarks) import MTCP` in Benchmarks/).
@_spi(Benchmarks) public struct FlowOwnership: ~Copyable {
    /// This engine's core (its queue pair).
    let core: Int
    private let hash: ToeplitzHash
    /// The owner of each hash bucket; empty when every flow is the receiving core's (`.paired`).
    private let owners: UnsafeMutableBufferPointer<UInt16>

    public init(core: Int, spreading: FlowSpreading) {
        switch spreading {
        case .paired: precondition(core >= 0, "core \(core) out of range")
        case .receiveSideScaling(let redirectionTable):
            // An empty table would read as `.paired`: every flow this core's.
            precondition(!redirectionTable.isEmpty, "an empty redirection table")
            precondition(core >= 0, "core \(core) out of range")
        case .unpredictable(let cores): precondition(0 <= core && core < cores, "core \(core) of \(cores)")
        }
        self.core = core
        hash = ToeplitzHash(key: ToeplitzHash.symmetricKey)
        let table: [UInt16] = switch spreading {
        case .paired: []
        case .receiveSideScaling(let redirectionTable): redirectionTable
        case .unpredictable(let cores): (0..<cores).map { UInt16($0) }
        }
        owners = .allocate(capacity: table.count)
        _ = owners.initialize(from: table)
    }

    deinit { owners.deallocate() }

    /// Whether owners follow from the hash (steered or forwarded), not from
    /// where frames arrive (paired): only then can a frame land on a core that
    /// does not own its flow.
    var predictsOwners: Bool { !owners.isEmpty }

    /// The core that receives `tuple`'s frames; this core when the port pairs queues.
    @inline(__always)
    public func owner(of tuple: FourTuple) -> Int {
        guard !owners.isEmpty else { return core }
        return owner(hash: receivedHash(tuple))
    }

    /// The hash of `tuple` as received (source = remote) with its local port
    /// left out, for `owns(localPort:hashLeavingOutLocalPort:)`.
    @inline(__always)
    func hashLeavingOutLocalPort(_ tuple: FourTuple) -> UInt32 {
        guard !owners.isEmpty else { return 0 }
        var leftOut = tuple
        leftOut.localPort = 0
        return receivedHash(leftOut)
    }

    /// Whether this core owns the flow from `localPort` to the destination whose
    /// other fields hash to `partial`: connect tries each candidate port at two
    /// table loads, with no per-destination state.
    @inline(__always)
    func owns(localPort: UInt16, hashLeavingOutLocalPort partial: UInt32, ipv4: Bool) -> Bool {
        guard !owners.isEmpty else { return true }
        let contribution = ipv4 ? hash.destinationPortContribution(localPort)
            : hash.ipv6DestinationPortContribution(localPort)
        return owner(hash: partial ^ contribution) == core
    }

    /// The RSS hash of `tuple`'s received segments (remote to local), either family.
    @inline(__always)
    private func receivedHash(_ tuple: FourTuple) -> UInt32 {
        guard tuple.isIPv4 else {
            return hash.hash(source: tuple.remoteAddress.v6, destination: tuple.localAddress.v6,
                             sourcePort: tuple.remotePort, destinationPort: tuple.localPort)
        }
        return hash.hash(source: tuple.remoteAddress.v4, destination: tuple.localAddress.v4,
                         sourcePort: tuple.remotePort, destinationPort: tuple.localPort)
    }

    @inline(__always)
    private func owner(hash value: UInt32) -> Int {
        Int(owners[Int(value % UInt32(owners.count))])
    }

    @inline(__always)
    func owns(_ tuple: FourTuple) -> Bool { owner(of: tuple) == core }
}
