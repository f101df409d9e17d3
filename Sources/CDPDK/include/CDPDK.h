// Header-only shims over DPDK 22.11 for Swift.
//
// Swift imports DPDK's `static inline` functions (rx/tx burst, mbuf alloc/free)
// and inlines them, but not function-like macros, thread-local variables or
// bitfield-heavy structures. The small accessors below fill those gaps; being
// `static inline` they cost nothing after inlining (no call per packet).
#ifndef MTCP_CDPDK_H
#define MTCP_CDPDK_H

#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_cycles.h>
#include <rte_version.h>
#include <rte_thash.h>
#include <rte_bus_vdev.h>
#include <rte_epoll.h>

#define MTCP_INLINE static inline __attribute__((always_inline))

// MARK: errors and versions

MTCP_INLINE int mtcp_rte_errno(void) { return rte_errno; }

// MARK: mbuf field access

MTCP_INLINE void *mtcp_mbuf_data(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }
MTCP_INLINE uint16_t mtcp_mbuf_data_len(const struct rte_mbuf *m) { return m->data_len; }
MTCP_INLINE uint32_t mtcp_mbuf_pkt_len(const struct rte_mbuf *m) { return m->pkt_len; }
MTCP_INLINE uint16_t mtcp_mbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
MTCP_INLINE uint16_t mtcp_mbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
MTCP_INLINE uint64_t mtcp_mbuf_ol_flags(const struct rte_mbuf *m) { return m->ol_flags; }
MTCP_INLINE uint32_t mtcp_mbuf_rss_hash(const struct rte_mbuf *m) { return m->hash.rss; }

/// Sets a single-segment mbuf's length (data_len and pkt_len together).
MTCP_INLINE void mtcp_mbuf_set_length(struct rte_mbuf *m, uint16_t length) {
    m->data_len = length;
    m->pkt_len = length;
}

/// Asks the NIC to fill the IPv4 header checksum and, if `l4_flags` is set, the TCP
/// or UDP checksum (the L4 checksum field must then hold the pseudo-header sum).
MTCP_INLINE void mtcp_mbuf_request_tx_checksum(struct rte_mbuf *m, uint16_t l2_len, uint16_t l3_len,
                                                uint64_t l4_flags) {
    m->l2_len = l2_len;
    m->l3_len = l3_len;
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | l4_flags;
}

// Offload flag values, exported as functions because the macros do not import
// as usable 64-bit constants in every case.
MTCP_INLINE uint64_t mtcp_tx_tcp_cksum_flag(void) { return RTE_MBUF_F_TX_TCP_CKSUM; }
MTCP_INLINE uint64_t mtcp_rx_ip_cksum_mask(void) { return RTE_MBUF_F_RX_IP_CKSUM_MASK; }
MTCP_INLINE uint64_t mtcp_rx_ip_cksum_good(void) { return RTE_MBUF_F_RX_IP_CKSUM_GOOD; }
MTCP_INLINE uint64_t mtcp_rx_ip_cksum_bad(void) { return RTE_MBUF_F_RX_IP_CKSUM_BAD; }
MTCP_INLINE uint64_t mtcp_rx_l4_cksum_mask(void) { return RTE_MBUF_F_RX_L4_CKSUM_MASK; }
MTCP_INLINE uint64_t mtcp_rx_l4_cksum_good(void) { return RTE_MBUF_F_RX_L4_CKSUM_GOOD; }
MTCP_INLINE uint64_t mtcp_rx_l4_cksum_bad(void) { return RTE_MBUF_F_RX_L4_CKSUM_BAD; }
MTCP_INLINE uint64_t mtcp_rx_rss_hash_flag(void) { return RTE_MBUF_F_RX_RSS_HASH; }

MTCP_INLINE uint64_t mtcp_txoff_ipv4_cksum(void) { return RTE_ETH_TX_OFFLOAD_IPV4_CKSUM; }
MTCP_INLINE uint64_t mtcp_txoff_tcp_cksum(void) { return RTE_ETH_TX_OFFLOAD_TCP_CKSUM; }
MTCP_INLINE uint64_t mtcp_rxoff_ipv4_cksum(void) { return RTE_ETH_RX_OFFLOAD_IPV4_CKSUM; }
MTCP_INLINE uint64_t mtcp_rxoff_tcp_cksum(void) { return RTE_ETH_RX_OFFLOAD_TCP_CKSUM; }
MTCP_INLINE uint64_t mtcp_rss_ipv4_tcp(void) { return RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4; }
MTCP_INLINE uint64_t mtcp_rss_nonfrag_ipv4_tcp(void) { return RTE_ETH_RSS_NONFRAG_IPV4_TCP; }

// MARK: mbuf pools

/// The size of an mbuf pool object made by `mtcp_pktmbuf_pool_create_page_sized`.
#define MTCP_PAGE_SIZED_MBUF 4096

/// An mbuf pool of `n` objects of exactly `MTCP_PAGE_SIZED_MBUF` bytes each, or
/// NULL with rte_errno set. What rte_pktmbuf_pool_create does, but with objects
/// that are not spread over memory channels (RTE_MEMPOOL_F_NO_SPREAD), so that
/// their size is the page's: they lie back to back in 4 KiB pages and 2 MiB
/// pages alike, with no gap at page ends. The caller checks that the pool took
/// one memory chunk (`mtcp_mempool_chunks`).
MTCP_INLINE struct rte_mempool *mtcp_pktmbuf_pool_create_page_sized(const char *name, unsigned n,
                                                                    unsigned cache_size, int socket) {
    struct rte_mempool_objsz size;
    rte_mempool_calc_obj_size(0, RTE_MEMPOOL_F_NO_SPREAD, &size);
    unsigned element = MTCP_PAGE_SIZED_MBUF - size.header_size - size.trailer_size;
    struct rte_pktmbuf_pool_private private_data;
    memset(&private_data, 0, sizeof(private_data));
    private_data.mbuf_data_room_size = (uint16_t)(element - sizeof(struct rte_mbuf));
    struct rte_mempool *pool = rte_mempool_create_empty(name, n, element, cache_size, sizeof(private_data), socket,
                                                        RTE_MEMPOOL_F_NO_SPREAD);
    if (pool == NULL) return NULL;
    int rc = rte_mempool_set_ops_byname(pool, rte_mbuf_best_mempool_ops(), NULL);
    if (rc == 0) {
        rte_pktmbuf_pool_init(pool, &private_data);
        rc = rte_mempool_populate_default(pool);
    }
    if (rc < 0) {
        rte_mempool_free(pool);
        rte_errno = -rc;
        return NULL;
    }
    rte_mempool_obj_iter(pool, rte_pktmbuf_init, NULL);
    return pool;
}

/// The memory chunks a pool's objects were placed in.
MTCP_INLINE unsigned mtcp_mempool_chunks(const struct rte_mempool *pool) { return pool->nb_mem_chunks; }

/// The distance between a pool's objects (header, element and trailer).
MTCP_INLINE uint32_t mtcp_mempool_object_size(const struct rte_mempool *pool) {
    return pool->header_size + pool->elt_size + pool->trailer_size;
}

// MARK: lcores

MTCP_INLINE unsigned mtcp_lcore_id(void) { return rte_lcore_id(); }

// MARK: thread affinity

// glibc declares these only under _GNU_SOURCE, which Swift's Glibc module is not
// built with; the CPU set macros used below (__CPU_*_S) need no feature macro.
extern int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set);
extern int pthread_setaffinity_np(pthread_t thread, size_t size, const cpu_set_t *set);

/// The CPUs the calling thread may run on, ascending, into `cpus` (at most
/// `capacity`); returns how many, or -1 when the kernel does not say.
MTCP_INLINE int mtcp_thread_cpus(int *cpus, int capacity) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    int count = 0;
    for (int cpu = 0; cpu < (int)(8 * sizeof(set)) && count < capacity; cpu++) {
        if (__CPU_ISSET_S(cpu, sizeof(set), &set)) cpus[count++] = cpu;
    }
    return count;
}

/// Restricts `thread` to the `count` CPUs of `cpus`; 0 on success.
MTCP_INLINE int mtcp_set_thread_cpus(pthread_t thread, const int *cpus, int count) {
    cpu_set_t set;
    __CPU_ZERO_S(sizeof(set), &set);
    for (int i = 0; i < count; i++) __CPU_SET_S(cpus[i], sizeof(set), &set);
    return pthread_setaffinity_np(thread, sizeof(set), &set);
}

// MARK: time stamp counter

MTCP_INLINE uint64_t mtcp_rdtsc(void) { return rte_rdtsc(); }

// MARK: ports

/// Configures `port` with the given queue counts. `rss_hf` of 0 leaves RSS off;
/// otherwise the Toeplitz key `rss_key` (`rss_key_len` bytes, the port's
/// hash_key_size; may be NULL for the PMD's own)
/// is installed. `struct rte_eth_conf` holds unions and bitfields that Swift
/// imports poorly, so it is built here.
MTCP_INLINE int mtcp_eth_configure(uint16_t port, uint16_t rx_queues, uint16_t tx_queues,
                                   uint64_t rss_hf, uint8_t *rss_key, uint8_t rss_key_len,
                                   uint64_t rx_offloads, uint64_t tx_offloads, int rx_interrupts) {
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    if (rss_hf != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        conf.rx_adv_conf.rss_conf.rss_key = rss_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = rss_key_len;
    }
    conf.rxmode.offloads = rx_offloads;
    conf.txmode.offloads = tx_offloads;
    conf.intr_conf.rxq = rx_interrupts != 0;
    return rte_eth_dev_configure(port, rx_queues, tx_queues, &conf);
}

/// Adds receive queue `queue`'s interrupt to the calling thread's epoll
/// instance. 0 on success; negative when the port offers no receive interrupts.
MTCP_INLINE int mtcp_rx_interrupt_register(uint16_t port, uint16_t queue) {
    return rte_eth_dev_rx_intr_ctl_q(port, queue, RTE_EPOLL_PER_THREAD, RTE_INTR_EVENT_ADD, NULL);
}

/// Arms the queue's interrupt, waits in this thread's epoll instance for it, a
/// signal or `timeout_ms`, and disarms it. The interruptible wait: a signal
/// (SIGINT, SIGHUP) ends it at once instead of restarting the full timeout.
/// A PMD without enable/disable operations (net_tap: its queue's descriptor is
/// the event, always armed) answers -ENOTSUP to both: the wait is still right.
MTCP_INLINE void mtcp_rx_interrupt_wait(uint16_t port, uint16_t queue, int timeout_ms) {
    struct rte_epoll_event event;
    (void)rte_eth_dev_rx_intr_enable(port, queue);
    (void)rte_epoll_wait_interruptible(RTE_EPOLL_PER_THREAD, &event, 1, timeout_ms);
    (void)rte_eth_dev_rx_intr_disable(port, queue);
}

/// Link state without touching `struct rte_eth_link`'s bitfields from Swift.
/// Returns 0 on success; `*up` is 1 when the link is up, `*speed_mbps` its speed.
MTCP_INLINE int mtcp_eth_link(uint16_t port, int *up, uint32_t *speed_mbps) {
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    int rc = rte_eth_link_get_nowait(port, &link);
    if (rc != 0) return rc;
    *up = link.link_status == RTE_ETH_LINK_UP;
    *speed_mbps = link.link_speed;
    return 0;
}

#endif
