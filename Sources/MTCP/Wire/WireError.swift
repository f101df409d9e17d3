/// Why a wire-format view or representation refused a packet.
///
/// Parsing never traps on hostile input: every inconsistency between the bytes and
/// the lengths they claim ends in one of these cases, and the caller drops the packet
/// (counting the reason, if it keeps statistics).
public enum WireError: Error, Equatable, Sendable {
    /// The buffer is shorter than the fixed header, or than a length field inside the
    /// packet claims (IPv4 header or total length, TCP data offset). Frames cut by a
    /// short read or a lying sender both end here.
    case truncated
    /// The IPv4 version field is not 4 (IPv6 and garbage arrive with EtherType 0x0800
    /// only by mistake or malice).
    case badVersion
    /// A header-length field is below the fixed header's size: IPv4 IHL < 5 or TCP
    /// data offset < 5. Accepting it would make options overlap the fixed fields.
    case badHeaderLength
    /// The IPv4 total length is smaller than the header length it must include.
    case badTotalLength
    /// ARP for a hardware other than Ethernet (hardware type 1, address length 6):
    /// the only link this stack speaks.
    case unsupportedHardware
    /// ARP for a protocol other than IPv4 (protocol type 0x0800, address length 4).
    case unsupportedProtocol
    /// An ARP operation other than request (1) or reply (2); RARP and InARP are not spoken.
    case badOperation
    /// An IPv4 fragment reached a parser that wants a whole datagram: the stack does
    /// not reassemble (its peers negotiate an MSS and set DF), so fragments are dropped.
    case fragmented
    /// An ICMP message other than echo request or echo reply with code 0; the stack
    /// answers pings and ignores the rest.
    case unsupportedMessage
    /// A TCP option whose length byte is missing, below 2, runs past the options
    /// area, or differs from the length its kind requires (RFC 9293 §3.1, RFC 7323,
    /// RFC 2018). One bad option makes the whole list untrustworthy.
    case malformedOption
}
