extension StackConfiguration {
    /// The keys of mtcp.conf whose values differ between `self` and `other`,
    /// sorted. Every key sizes or places something made once at start-up (EAL,
    /// the port, the pools, the engines' TCP parameters), so a reload names them
    /// as waiting for a restart. The comparison comes from the parser's own
    /// rules: a key cannot be added without one.
    public func keysDiffering(from other: StackConfiguration) -> [String] {
        Self.keys.filter { !Self.rule(for: $0)!.same(self, other) }
    }
}
