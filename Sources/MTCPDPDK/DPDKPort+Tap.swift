import CDPDK
import Glibc
import MTCP

extension DPDKPort {
    /// Creates a `net_tap` port after EAL started: the kernel interface
    /// `interfaceName` appears in the process's network namespace with the
    /// Ethernet address `macAddress`. Made at run time rather than from a `vdev`
    /// line so that it can take the address of the port it stands beside.
    public static func tap(interfaceName: String, macAddress: MACAddress) throws(DPDKError) -> DPDKPort {
        let device = "net_tap_exception"
        let rc = rte_vdev_init(device, "iface=\(interfaceName),mac=\(macAddress)")
        guard rc == 0 else {
            throw DPDKError("creating the kernel interface \(interfaceName) (net_tap) failed: "
                + String(cString: strerror(-rc)) + " (it needs CAP_NET_ADMIN and /dev/net/tun; "
                + "is an interface of that name left over?)")
        }
        var id: UInt16 = 0
        guard rte_eth_dev_get_port_by_name(device, &id) == 0 else {
            throw DPDKError("net_tap \(interfaceName) was created but has no port")
        }
        return try DPDKPort(id: Int(id))
    }
}
