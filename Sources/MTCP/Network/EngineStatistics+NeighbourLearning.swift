extension EngineStatistics {
    /// Counts what a neighbour table's `learn` did with an ARP or Neighbor
    /// Discovery packet (one table design, one set of counters; a full table is
    /// `fullTable`). True when the table now resolves the neighbour, so frames
    /// waiting for it may go. A conflict with a static entry is the caller's to
    /// drop and count, with the packet.
    mutating func countLearning<Address>(_ outcome: NeighbourTable<Address>.LearnOutcome,
                                         fullTable: DropReason) -> Bool {
        switch outcome {
        case .stored, .unchanged:
            return true
        case .storedEvicting:
            arpCacheEvictions &+= 1
            return true
        case .macChanged:
            arpMACChanges &+= 1
            return true
        case .macChangeIgnored:
            arpMACChangesIgnored &+= 1
            return false
        case .refused:
            drops.count(fullTable)
            return false
        case .conflictsWithStatic:
            return false
        }
    }
}
