/// Why the stack discarded a frame. Every discard is counted under exactly one
/// reason, so an operator can tell malformed traffic from misdirected traffic
/// from resource shortage.
public enum DropReason: Int, CaseIterable, Sendable, CustomStringConvertible {
    // Ethernet
    case ethernetTruncated
    case otherDestinationMAC
    case unsupportedEtherType
    // ARP
    case arpMalformed
    case arpNotForUs
    case arpAddressConflict
    case arpCacheFull
    /// A sender claiming a static (arp.conf) address at another MAC.
    case arpSpoofedStatic
    // IPv4 validation (RFC 791, RFC 1122 §3.2.1)
    case ipv4Truncated
    case ipv4BadVersion
    case ipv4BadHeaderLength
    case ipv4BadTotalLength
    case ipv4BadChecksum
    case ipv4Fragment
    case ipv4BadSource
    case ipv4OtherDestination
    case ipv4Broadcast
    case ipv4UnsupportedProtocol
    // TCP (the rest of TCP's discards are in TCPStatistics)
    case tcpMalformed
    case tcpBadChecksum
    // ICMP
    case icmpMalformed
    case icmpBadChecksum
    case icmpUnsupportedType
    // Output
    case noRoute
    case arpQueueFull
    case arpResolutionTimeout
    case transmitQueueFull
    case bufferExhausted
    /// A packet larger than the device's buffers (a segment size the port cannot carry).
    case frameTooLong
    /// A segment for another core's flow found that core's ring full (it is never waited for).
    case forwardRingFull
    /// A segment for another core's flow arrived after that core stopped (shutdown).
    case forwardOwnerStopped
    /// A frame for the kernel found its interface without room (exception path).
    case exceptionPathFull
    // IPv6 validation (RFC 8200, RFC 4291) and its extension headers
    case ipv6Truncated
    case ipv6BadVersion
    case ipv6BadSource
    case ipv6OtherDestination
    case ipv6Fragment
    case ipv6RoutingHeader
    case ipv6UnrecognisedOption
    case ipv6UnknownNextHeader
    case ipv6MisplacedHopByHop
    case ipv6NoNextHeader
    case ipv6TooManyExtensionHeaders
    // ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861)
    case icmpv6Malformed
    case icmpv6BadChecksum
    case icmpv6UnsupportedType
    /// A Neighbor Discovery message failing RFC 4861 §7.1's checks (hop limit, options, addresses).
    case ndMalformed
    case ndNotForUs
    /// A neighbour claiming a static (arp.conf) IPv6 address at another MAC.
    case ndSpoofedStatic
    /// Another node uses our address (a solicitation or advertisement for it from elsewhere).
    case ndAddressConflict
    case ndCacheFull

    public var description: String {
        switch self {
        case .ethernetTruncated: "ethernet_truncated"
        case .otherDestinationMAC: "other_destination_mac"
        case .unsupportedEtherType: "unsupported_ethertype"
        case .arpMalformed: "arp_malformed"
        case .arpNotForUs: "arp_not_for_us"
        case .arpAddressConflict: "arp_address_conflict"
        case .arpCacheFull: "arp_cache_full"
        case .arpSpoofedStatic: "arp_spoofed_static"
        case .ipv4Truncated: "ipv4_truncated"
        case .ipv4BadVersion: "ipv4_bad_version"
        case .ipv4BadHeaderLength: "ipv4_bad_header_length"
        case .ipv4BadTotalLength: "ipv4_bad_total_length"
        case .ipv4BadChecksum: "ipv4_bad_checksum"
        case .ipv4Fragment: "ipv4_fragment"
        case .ipv4BadSource: "ipv4_bad_source"
        case .ipv4OtherDestination: "ipv4_other_destination"
        case .ipv4Broadcast: "ipv4_broadcast"
        case .ipv4UnsupportedProtocol: "ipv4_unsupported_protocol"
        case .tcpMalformed: "tcp_malformed"
        case .tcpBadChecksum: "tcp_bad_checksum"
        case .icmpMalformed: "icmp_malformed"
        case .icmpBadChecksum: "icmp_bad_checksum"
        case .icmpUnsupportedType: "icmp_unsupported_type"
        case .noRoute: "no_route"
        case .arpQueueFull: "arp_queue_full"
        case .arpResolutionTimeout: "arp_resolution_timeout"
        case .transmitQueueFull: "transmit_queue_full"
        case .bufferExhausted: "buffer_exhausted"
        case .forwardRingFull: "forward_ring_full"
        case .forwardOwnerStopped: "forward_owner_stopped"
        case .frameTooLong: "frame_too_long"
        case .exceptionPathFull: "exception_path_full"
        case .ipv6Truncated: "ipv6_truncated"
        case .ipv6BadVersion: "ipv6_bad_version"
        case .ipv6BadSource: "ipv6_bad_source"
        case .ipv6OtherDestination: "ipv6_other_destination"
        case .ipv6Fragment: "ipv6_fragment"
        case .ipv6RoutingHeader: "ipv6_routing_header"
        case .ipv6UnrecognisedOption: "ipv6_unrecognised_option"
        case .ipv6UnknownNextHeader: "ipv6_unknown_next_header"
        case .ipv6MisplacedHopByHop: "ipv6_misplaced_hop_by_hop"
        case .ipv6NoNextHeader: "ipv6_no_next_header"
        case .ipv6TooManyExtensionHeaders: "ipv6_too_many_extension_headers"
        case .icmpv6Malformed: "icmpv6_malformed"
        case .icmpv6BadChecksum: "icmpv6_bad_checksum"
        case .icmpv6UnsupportedType: "icmpv6_unsupported_type"
        case .ndMalformed: "nd_malformed"
        case .ndNotForUs: "nd_not_for_us"
        case .ndSpoofedStatic: "nd_spoofed_static"
        case .ndAddressConflict: "nd_address_conflict"
        case .ndCacheFull: "nd_cache_full"
        }
    }
}

/// One counter per `DropReason`, in storage allocated once.
public struct DropCounters: Sendable, Equatable {
    private var counts = [UInt64](repeating: 0, count: DropReason.allCases.count)

    public init() {}

    public subscript(reason: DropReason) -> UInt64 {
        get { counts[reason.rawValue] }
        set { counts[reason.rawValue] = newValue }
    }

    @inline(__always)
    public mutating func count(_ reason: DropReason) { counts[reason.rawValue] &+= 1 }

    public var total: UInt64 { counts.reduce(0, &+) }

    /// The reasons with a non-zero count, for statistics output.
    public var nonZero: [(DropReason, UInt64)] {
        DropReason.allCases.compactMap { counts[$0.rawValue] == 0 ? nil : ($0, counts[$0.rawValue]) }
    }
}
