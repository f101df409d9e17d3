/// An address the stack serves besides its own (`vip` in mtcp.conf): the service
/// address of several replicas behind ECMP routes or an IPVS director.
///
/// Connections to it are answered from it. Behind a router that routes the
/// address to each replica, the replica answers ARP for it like for its own; in
/// direct server return (IPVS's "DR" mode) the director alone may answer ARP for
/// it, and every replica must stay silent, or the replicas steal the traffic.
public struct VirtualAddress: Sendable, Equatable {
    public var address: IPv4Address
    /// Whether ARP requests for the address are answered.
    public var answersARP: Bool

    public init(address: IPv4Address, answersARP: Bool = true) {
        self.address = address
        self.answersARP = answersARP
    }
}

extension Engine {
    /// Whether `destination`, which is not the stack's own address, is one of its
    /// virtual addresses. Asked only when the destination is not the own address.
    @inline(never)
    func isVirtualAddress(_ destination: IPv4Address) -> Bool {
        virtualAddresses.contains { $0.address == destination }
    }

    /// Whether an ARP request for `target` is ours to answer.
    func answersARP(for target: IPv4Address) -> Bool {
        target == address.address || virtualAddresses.contains { $0.answersARP && $0.address == target }
    }
}
