/// A start-up failure of DPDK, worded for an operator: what failed and DPDK's reason.
public struct DPDKError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
