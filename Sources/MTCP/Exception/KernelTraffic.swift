/// Which received traffic the kernel gets through the exception path beyond what
/// the stack cannot serve (other EtherTypes and IP protocols, TCP to ports no
/// listener owns): IP protocols and TCP ports the operator keeps for the kernel
/// even though the stack could answer them (ICMP, so that the kernel answers
/// pings; a port the application also listens on).
public struct KernelTraffic: Sendable, Equatable {
    /// IP protocols handed to the kernel whole (never `.tcp`: the stack serves it).
    public var protocols: Set<IPProtocol>
    /// TCP destination ports whose segments go to the kernel when no connection
    /// of the stack owns them, even with a listener on the port.
    public var tcpPorts: Set<UInt16>

    public init(protocols: Set<IPProtocol> = [], tcpPorts: Set<UInt16> = []) {
        self.protocols = protocols
        self.tcpPorts = tcpPorts
    }
}
