/// The walk over an IPv6 packet's extension headers (RFC 8200 §4) to its
/// upper-layer header, as a host that neither forwards nor reassembles.
///
/// Every length is checked against the payload before it is used, and the walk
/// stops after `maximumExtensionHeaders`, so a packet of crafted headers costs a
/// bounded number of steps and can never lead a read outside the buffer.
public enum IPv6HeaderChain {
    /// More headers than any legitimate packet to a host carries (RFC 8200 §4.1
    /// lists at most six kinds, each once but Destination Options twice).
    public static let maximumExtensionHeaders = 8

    public enum Outcome: Equatable {
        /// The upper-layer header: its protocol and its offset in the packet.
        case upperLayer(IPProtocol, offset: Int)
        /// The packet is dropped, with a Parameter Problem for its source when one is due.
        case discard(Discard, problem: ParameterProblem?)
    }

    /// Why a packet was not delivered.
    public enum Discard: Equatable, Sendable {
        /// A header runs past the payload, or an option past its header.
        case truncated
        /// Fragments are not reassembled (as for IPv4: counted and dropped).
        case fragment
        /// A Routing header that would have to be executed (segments left),
        /// RFC 5095's deprecated type 0 among them: a host does not forward.
        case routingHeader
        /// An option whose type says the packet must be dropped if it is unknown.
        case unrecognisedOption
        /// A next header this host does not implement (nor an extension header).
        case unknownNextHeader
        /// A Hop-by-Hop Options header anywhere but right after the fixed header.
        case misplacedHopByHop
        /// Next header 59: nothing follows.
        case noNextHeader
        /// More than `maximumExtensionHeaders`.
        case tooManyHeaders
    }

    /// An ICMPv6 Parameter Problem to send (RFC 4443 §3.4).
    public struct ParameterProblem: Equatable, Sendable {
        public static let erroneousHeaderField: UInt8 = 0
        public static let unrecognisedNextHeader: UInt8 = 1
        public static let unrecognisedOption: UInt8 = 2

        public var code: UInt8
        /// Offset of the offending byte in the packet, fixed header included.
        public var pointer: UInt32
        /// RFC 8200 §4.2: option types 10xxxxxx are answered even to a multicast
        /// destination; every other problem is answered only to unicast.
        public var evenToMulticast = false
    }

    /// Walks the headers of `packet` (already checked by `IPv6Packet(checking:)`).
    public static func walk(_ packet: IPv6Packet) -> Outcome {
        let bytes = packet.bytes
        let end = IPv6Packet.headerLength + Int(packet.payloadLength)
        var next = packet.nextHeader
        var offset = IPv6Packet.headerLength
        var nextHeaderField = 6  // where `next` was read, for a pointer at it
        var extensionHeaders = 0
        while true {
            switch next {
            case .tcp, .icmpv6:
                return .upperLayer(next, offset: offset)
            case .ipv6NoNextHeader:
                return .discard(.noNextHeader, problem: nil)
            case .hopByHopOptions where offset != IPv6Packet.headerLength:
                return .discard(.misplacedHopByHop, problem: ParameterProblem(
                    code: ParameterProblem.unrecognisedNextHeader, pointer: UInt32(nextHeaderField)))
            case .hopByHopOptions, .destinationOptions, .ipv6Routing, .ipv6Fragment:
                extensionHeaders += 1
                guard extensionHeaders <= maximumExtensionHeaders else { return .discard(.tooManyHeaders, problem: nil) }
                guard offset + 8 <= end else { return .discard(.truncated, problem: nil) }
                let length = next == .ipv6Fragment ? 8 : (Int(bytes[offset + 1]) + 1) * 8
                guard offset + length <= end else { return .discard(.truncated, problem: nil) }
                if next == .ipv6Fragment { return .discard(.fragment, problem: nil) }
                if next == .ipv6Routing {
                    // Segments left 0: the header is ignored, whatever its type (RFC 8200 §4.4).
                    if bytes[offset + 3] != 0 {
                        return .discard(.routingHeader, problem: ParameterProblem(
                            code: ParameterProblem.erroneousHeaderField, pointer: UInt32(offset + 2)))
                    }
                } else if let refusal = checkOptions(bytes, from: offset + 2, to: offset + length) {
                    return refusal
                }
                nextHeaderField = offset
                next = IPProtocol(rawValue: bytes[offset])
                offset += length
            default:
                return .discard(.unknownNextHeader, problem: ParameterProblem(
                    code: ParameterProblem.unrecognisedNextHeader, pointer: UInt32(nextHeaderField)))
            }
        }
    }

    /// The options of a Hop-by-Hop or Destination Options header (RFC 8200
    /// §4.2): only padding is understood; an unknown option's two high type bits
    /// say whether to skip it or to drop the packet, and whether to answer.
    private static func checkOptions(_ bytes: UnsafeMutableRawBufferPointer, from start: Int, to end: Int) -> Outcome? {
        var position = start
        while position < end {
            let type = bytes[position]
            if type == 0 {  // Pad1: a single byte
                position += 1
                continue
            }
            guard position + 2 <= end, position + 2 + Int(bytes[position + 1]) <= end else {
                return .discard(.truncated, problem: nil)
            }
            let problem = ParameterProblem(code: ParameterProblem.unrecognisedOption, pointer: UInt32(position),
                                           evenToMulticast: type >> 6 == 0b10)
            switch type >> 6 {
            case _ where type == 1: break  // PadN
            case 0b00: break
            case 0b01: return .discard(.unrecognisedOption, problem: nil)
            default: return .discard(.unrecognisedOption, problem: problem)
            }
            position += 2 + Int(bytes[position + 1])
        }
        return nil
    }
}
