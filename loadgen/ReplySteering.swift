import MTCPConfig

/// Whether replies to the connections a core opens come back to that core's
/// queue, which several cores need: a core only knows its own connections.
///
/// - `net_memif`: queue pair i of the loadgen is joined to queue pair i of the
///   appliance, and the appliance answers on the queue a segment arrived on,
///   so replies return to the sending core with no hashing at all.
/// - `net_af_packet` (and other ports with more than one queue but no
///   Toeplitz RSS): the kernel spreads received frames over the queues with
///   its fanout hash, seeded at random per socket; no choice of source port
///   can predict it, so replies would land on other cores and be dropped.
/// - A port with Toeplitz RSS (a PCI NIC): each core picks source ports whose
///   symmetric hash selects its queue through the port's redirection table
///   (`LocalPortChoices`), so replies return to it.
enum ReplySteering {
    /// Refuses configurations where `cores` engines could not get their replies.
    static func check(_ configuration: StackConfiguration, cores: Int) throws(LoadgenError) {
        guard cores > 1 else { return }
        // Without PCI probing, port dpdkN is the N-th vdev.
        let index = Int(configuration.ports[0].dropFirst("dpdk".count)) ?? 0
        let vdev = !configuration.probesPCI && configuration.vdevs.indices.contains(index)
            ? configuration.vdevs[index] : nil
        if vdev == nil || vdev!.hasPrefix("net_memif") { return }
        throw LoadgenError("-N \(cores): replies to connections this program opens can only be steered back to "
            + "the opening core over net_memif (queue pair i to queue pair i) or a NIC with RSS; on \(vdev!) the "
            + "kernel's hash picks the queue. Use -N 1 here, or a net_memif port (see conf/).")
    }
}
