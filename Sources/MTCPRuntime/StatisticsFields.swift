import MTCP

extension EngineStatistics {
    public static let counters: [CounterField<EngineStatistics>] = [
        .init(name: "received_frames", help: "Frames received", keyPath: \.receivedFrames),
        .init(name: "received_bytes", help: "Bytes received", keyPath: \.receivedBytes),
        .init(name: "transmitted_frames", help: "Frames transmitted", keyPath: \.transmittedFrames),
        .init(name: "transmitted_bytes", help: "Bytes transmitted", keyPath: \.transmittedBytes),
        .init(name: "arp_requests_sent", help: "ARP requests sent", keyPath: \.arpRequestsSent),
        .init(name: "arp_replies_sent", help: "ARP replies sent", keyPath: \.arpRepliesSent),
        .init(name: "arp_cache_evictions", help: "Neighbours evicted from a full ARP or ND cache",
              keyPath: \.arpCacheEvictions),
        .init(name: "arp_mac_changes", help: "Neighbours that moved to another MAC", keyPath: \.arpMACChanges),
        .init(name: "arp_mac_changes_ignored", help: "MAC changes ignored within a second of a confirmation",
              keyPath: \.arpMACChangesIgnored),
        .init(name: "icmp_echo_replies_sent", help: "ICMP echo replies sent", keyPath: \.echoRepliesSent),
        .init(name: "tx_shaped_frames", help: "Times a ready frame waited for line credit (tx_rate_mbps)",
              keyPath: \.shapedFrames),
        .init(name: "tx_stateless_replies_refused",
              help: "Resets, SYN-cookie SYN-ACKs, ICMP and ARP replies not sent: the shaped line's queue was full",
              keyPath: \.statelessRepliesRefused),
        .init(name: "forwarded_frames", help: "Segments handed to the core owning their flow",
              keyPath: \.forwardedFrames),
        .init(name: "steering_mismatches", help: "Segments that arrived on a core their flow's RSS hash does not name",
              keyPath: \.steeringMismatches),
        .init(name: "exception_frames_to_kernel", help: "Frames handed to the kernel (exception path)",
              keyPath: \.framesToKernel),
        .init(name: "exception_bytes_to_kernel", help: "Bytes handed to the kernel", keyPath: \.bytesToKernel),
        .init(name: "exception_frames_from_kernel", help: "Frames the kernel sent out of the port",
              keyPath: \.framesFromKernel),
        .init(name: "exception_bytes_from_kernel", help: "Bytes the kernel sent out of the port",
              keyPath: \.bytesFromKernel),
    ] + ipv6Counters

    static let ipv6Counters: [CounterField<EngineStatistics>] = [
        .init(name: "ipv6_received_packets", help: "IPv6 packets received (the rest of received_frames is IPv4 and ARP)",
              keyPath: \.ipv6ReceivedPackets),
        .init(name: "icmpv6_echo_replies_sent", help: "ICMPv6 echo replies sent", keyPath: \.icmpv6EchoRepliesSent),
        .init(name: "icmpv6_errors_sent", help: "ICMPv6 error messages sent", keyPath: \.icmpv6ErrorsSent),
        .init(name: "icmpv6_errors_rate_limited", help: "ICMPv6 errors not sent: over the rate limit",
              keyPath: \.icmpv6ErrorsRateLimited),
        .init(name: "nd_solicitations_sent", help: "Neighbor Solicitations sent", keyPath: \.neighborSolicitationsSent),
        .init(name: "nd_advertisements_sent", help: "Neighbor Advertisements sent",
              keyPath: \.neighborAdvertisementsSent),
        .init(name: "nd_duplicate_addresses", help: "Our IPv6 addresses found in use by another node",
              keyPath: \.duplicateAddressesDetected),
    ]

    mutating func add(_ other: EngineStatistics) {
        for field in Self.counters { self[keyPath: field.keyPath] &+= other[keyPath: field.keyPath] }
        for reason in DropReason.allCases { drops[reason] &+= other.drops[reason] }
    }
}

extension TCPStatistics {
    public static let counters: [CounterField<TCPStatistics>] = [
        .init(name: "tcp_active_opens", help: "Connections opened by connect", keyPath: \.activeOpens),
        .init(name: "tcp_passive_opens", help: "Connections opened by a SYN to a listener", keyPath: \.passiveOpens),
        .init(name: "tcp_active_opens_ipv6", help: "Connections opened by connect, to IPv6 peers",
              keyPath: \.activeOpensIPv6),
        .init(name: "tcp_passive_opens_ipv6", help: "Connections opened by a SYN to a listener, from IPv6 peers",
              keyPath: \.passiveOpensIPv6),
        .init(name: "tcp_cached_rtt_opens", help: "Handshakes timed from an earlier connection's RTT with the peer",
              keyPath: \.cachedRTTOpens),
        .init(name: "tcp_established", help: "Connections that reached ESTABLISHED", keyPath: \.established),
        .init(name: "tcp_closed", help: "Connections that ended in an orderly close", keyPath: \.closed),
        .init(name: "tcp_resets_received", help: "RST segments accepted", keyPath: \.resetsReceived),
        .init(name: "tcp_resets_sent", help: "RST segments sent", keyPath: \.resetsSent),
        .init(name: "tcp_segments_received", help: "TCP segments received", keyPath: \.segmentsReceived),
        .init(name: "tcp_segments_sent", help: "TCP segments sent", keyPath: \.segmentsSent),
        .init(name: "tcp_retransmitted_segments", help: "Segments retransmitted", keyPath: \.retransmittedSegments),
        .init(name: "tcp_fast_retransmits", help: "Fast retransmissions", keyPath: \.fastRetransmits),
        .init(name: "tcp_timeouts", help: "Retransmission timeouts", keyPath: \.timeouts),
        .init(name: "tcp_tlp_probes", help: "Tail loss probes (RFC 8985)", keyPath: \.tlpProbes),
        .init(name: "tcp_tlp_recoveries", help: "Losses repaired after a tail loss probe without a timeout",
              keyPath: \.tlpRecoveries),
        .init(name: "tcp_rack_marked_lost", help: "Losses marked by RACK's reordering window",
              keyPath: \.rackMarkedLost),
        .init(name: "tcp_spurious_rto", help: "Retransmission timeouts found spurious (RFC 3522)",
              keyPath: \.spuriousTimeouts),
        .init(name: "tcp_spurious_rto_undone", help: "Spurious retransmission timeouts whose window was restored (RFC 4015)",
              keyPath: \.spuriousTimeoutsUndone),
        .init(name: "tcp_dsacks_received", help: "ACKs reporting a needless retransmission (D-SACK, RFC 2883)",
              keyPath: \.duplicateSACKsReceived),
        .init(name: "tcp_challenge_acks_sent", help: "Challenge ACKs (RFC 5961)", keyPath: \.challengeAcksSent),
        .init(name: "tcp_challenge_acks_suppressed", help: "Challenge ACKs over the per-connection limit",
              keyPath: \.challengeAcksSuppressed),
        .init(name: "tcp_dropped_segment_acks_suppressed",
              help: "ACKs not sent for bare segments dropped as out of window or by PAWS (over the per-connection limit)",
              keyPath: \.droppedSegmentAcksSuppressed),
        .init(name: "tcp_syn_cookies_sent", help: "SYN-ACKs with a SYN cookie", keyPath: \.synCookiesSent),
        .init(name: "tcp_syn_cookies_checked", help: "ACKs checked for a SYN cookie (after a recent SYN queue overflow)",
              keyPath: \.synCookiesChecked),
        .init(name: "tcp_syn_cookies_accepted", help: "Valid SYN cookies returned", keyPath: \.synCookiesAccepted),
        .init(name: "tcp_syn_cookies_rejected", help: "Invalid SYN cookies", keyPath: \.synCookiesRejected),
        .init(name: "tcp_refused_no_resources", help: "Connections refused: a pool was empty",
              keyPath: \.refusedNoResources),
        .init(name: "tcp_local_ports_exhausted", help: "connect: no free local port whose flow this core owns",
              keyPath: \.localPortsExhausted),
        .init(name: "tcp_accept_queue_overflows", help: "Accept queue full", keyPath: \.acceptQueueOverflows),
        .init(name: "tcp_bad_checksum", help: "Segments with a bad checksum", keyPath: \.badChecksum),
        .init(name: "tcp_malformed", help: "Malformed segments", keyPath: \.malformed),
        .init(name: "tcp_out_of_window", help: "Segments outside the window", keyPath: \.outOfWindow),
        .init(name: "tcp_paws_rejected", help: "Segments rejected by PAWS", keyPath: \.pawsRejected),
        .init(name: "tcp_out_of_order_segments", help: "Segments received out of order",
              keyPath: \.outOfOrderSegments),
        .init(name: "tcp_out_of_order_refused", help: "Out-of-order segments not kept",
              keyPath: \.outOfOrderRefused),
        .init(name: "tcp_delayed_acks", help: "ACKs sent by the delayed-ACK timer", keyPath: \.delayedAcks),
        .init(name: "tcp_zero_window_probes", help: "Zero-window probes sent", keyPath: \.zeroWindowProbes),
        .init(name: "tcp_keepalive_probes", help: "Keep-alive probes sent", keyPath: \.keepAliveProbes),
    ]

    mutating func add(_ other: TCPStatistics) {
        for field in Self.counters { self[keyPath: field.keyPath] &+= other[keyPath: field.keyPath] }
    }
}
