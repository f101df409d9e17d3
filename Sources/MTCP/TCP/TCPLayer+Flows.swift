/// The flow tables of both families behind one interface keyed by `FourTuple`:
/// the family is tested once per operation and each table keeps its own key
/// size, so IPv4 lookups hash and compare what they did before IPv6.
extension TCPLayer {
    @inline(__always)
    func lookupFlow(_ tuple: FourTuple) -> Int32? {
        tuple.isIPv4 ? flows.lookup(IPv4FlowKey(tuple)) : flows6.lookup(IPv6FlowKey(tuple))
    }

    @inline(__always)
    mutating func insertFlow(_ tuple: FourTuple, _ index: Int32) -> Bool {
        tuple.isIPv4 ? flows.insert(IPv4FlowKey(tuple), index) : flows6.insert(IPv6FlowKey(tuple), index)
    }

    @inline(__always)
    mutating func removeFlow(_ tuple: FourTuple) {
        if tuple.isIPv4 { flows.remove(IPv4FlowKey(tuple)) } else { flows6.remove(IPv6FlowKey(tuple)) }
    }
}
