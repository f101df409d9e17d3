import CDPDK
import Glibc
import MTCP

/// The DPDK Environment Abstraction Layer of this process: initialised once, before
/// any port is used, torn down at exit.
public enum DPDKEnvironment {
    /// Runs `rte_eal_init` with `arguments` (argv[0] first).
    ///
    /// The strings are copied into C memory that is never freed: DPDK may keep
    /// pointers into argv for the life of the process.
    public static func initialize(arguments: [String]) throws(DPDKError) {
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
        for (index, argument) in arguments.enumerated() { argv[index] = strdup(argument) }
        argv[arguments.count] = nil
        let consumed = rte_eal_init(Int32(arguments.count), argv)
        guard consumed >= 0 else {
            throw DPDKError("EAL initialisation failed (\(String(cString: rte_strerror(mtcp_rte_errno())))): "
                + arguments.dropFirst().joined(separator: " "))
        }
    }

    /// Number of Ethernet ports DPDK found (vdevs included).
    public static var availablePorts: Int { Int(rte_eth_dev_count_avail()) }

    /// Releases hugepage/shared-memory state so a later run starts clean.
    public static func cleanup() { _ = rte_eal_cleanup() }

    /// The TSC frequency, for turning cycle counts into time.
    public static var cyclesPerSecond: UInt64 { rte_get_tsc_hz() }
}
