import CDPDK

/// Receive interrupts of one queue (DPDK's `rte_eth_dev_rx_intr_*` and its
/// per-thread epoll): an idle engine arms the queue's interrupt and sleeps
/// until a frame comes or a deadline passes, instead of polling or sleeping
/// blindly. Only some ports offer them: of the vdevs here, `net_tap` (its
/// queue's file descriptor) and `net_virtio_user` (the vring's call eventfd)
/// do, `net_af_packet`, `net_af_xdp` and `net_memif` do not (DPDK 22.11).
public struct ReceiveInterrupts {
    public let port: UInt16
    public let queue: UInt16

    /// Whether queue `queue` of the started `port` has an interrupt to wait on
    /// (asked from any thread: the descriptor exists once the port started
    /// with receive interrupts requested).
    public static func offered(port: UInt16, queue: UInt16) -> Bool {
        rte_eth_dev_rx_intr_ctl_q_get_fd(port, queue) >= 0
    }

    /// Adds the queue's interrupt to the calling thread's DPDK epoll instance;
    /// nil when the port offers none. Call on the thread that will `wait`.
    public init?(port: UInt16, queue: UInt16) {
        guard mtcp_rx_interrupt_register(port, queue) == 0 else { return nil }
        self.port = port
        self.queue = queue
    }

    /// Sleeps until a frame arrives on the queue, a signal comes, or
    /// `milliseconds` pass. A frame that came after the last empty poll has
    /// already raised the (edge-triggered) event, so the wait returns at once
    /// and the frame is not left waiting.
    public func wait(milliseconds: Int32) {
        mtcp_rx_interrupt_wait(port, queue, milliseconds)
    }
}
