import Testing
@testable import MTCP

/// The extension header walk: each header kind, each refusal and its Parameter
/// Problem pointer (RFC 8200 §4), and that no crafted length reads past the packet.
@Suite struct IPv6HeaderChainTests {
    typealias Problem = IPv6HeaderChain.ParameterProblem

    /// A packet whose payload is `headers` followed by 20 bytes of "TCP", the
    /// first next header being `first`.
    func walk(first: IPProtocol, _ headers: [UInt8], upper: Int = 20) -> IPv6HeaderChain.Outcome {
        var packet = [UInt8](repeating: 0, count: IPv6Packet.headerLength + headers.count + upper)
        return packet.withUnsafeMutableBytes { buffer in
            IPv6Repr(source: IPv6Address("2001:2::2")!, destination: IPv6Address("2001:2::1")!, nextHeader: first,
                     payloadLength: headers.count + upper).emit(into: IPv6Packet(unchecked: buffer))
            buffer.baseAddress!.advanced(by: IPv6Packet.headerLength)
                .copyMemory(from: headers, byteCount: headers.count)
            return IPv6HeaderChain.walk(try! IPv6Packet(checking: buffer))
        }
    }

    @Test func reachesTheUpperLayerThroughOptionsHeaders() {
        #expect(walk(first: .tcp, []) == .upperLayer(.tcp, offset: 40))
        // Hop-by-Hop with Pad1 and a PadN of 3, then Destination Options with a
        // skippable unknown option (type 0x1E: high bits 00), then TCP.
        let hopByHop: [UInt8] = [60, 0, 0, 1, 3, 0, 0, 0]
        let destination: [UInt8] = [6, 0, 0x1E, 4, 1, 2, 3, 4]
        #expect(walk(first: .hopByHopOptions, hopByHop + destination) == .upperLayer(.tcp, offset: 56))
        // A Routing header with no segments left is skipped, type 0 included.
        #expect(walk(first: .ipv6Routing, [6, 0, 0, 0, 0, 0, 0, 0]) == .upperLayer(.tcp, offset: 48))
    }

    @Test func refusesWhatAHostMustNotProcess() {
        #expect(walk(first: .ipv6Fragment, [6, 0, 0, 1, 0, 0, 0, 1]) == .discard(.fragment, problem: nil))
        // Routing type 0 with a segment left: the pointer names the type field.
        #expect(walk(first: .ipv6Routing, [6, 2, 0, 1] + [UInt8](repeating: 0, count: 20))
            == .discard(.routingHeader, problem: Problem(code: Problem.erroneousHeaderField, pointer: 42)))
        #expect(walk(first: .ipv6NoNextHeader, []) == .discard(.noNextHeader, problem: nil))
        // An unknown next header after a Destination Options header: the pointer
        // names the next header field that announced it.
        #expect(walk(first: .destinationOptions, [0xFD, 0, 1, 4, 0, 0, 0, 0])
            == .discard(.unknownNextHeader, problem: Problem(code: Problem.unrecognisedNextHeader, pointer: 40)))
        #expect(walk(first: .udp, []) == .discard(.unknownNextHeader,
                                                    problem: Problem(code: Problem.unrecognisedNextHeader, pointer: 6)))
        // Hop-by-Hop after another header.
        #expect(walk(first: .destinationOptions, [0, 0, 1, 4, 0, 0, 0, 0] + [6, 0, 1, 4, 0, 0, 0, 0])
            == .discard(.misplacedHopByHop, problem: Problem(code: Problem.unrecognisedNextHeader, pointer: 40)))
    }

    @Test func unknownOptionsAreHandledAsTheirTypeBitsSay() {
        func destinationOptions(type: UInt8) -> IPv6HeaderChain.Outcome {
            walk(first: .destinationOptions, [6, 0, 1, 0, type, 2, 0, 0])
        }
        #expect(destinationOptions(type: 0x3E) == .upperLayer(.tcp, offset: 48))
        #expect(destinationOptions(type: 0x7E) == .discard(.unrecognisedOption, problem: nil))
        #expect(destinationOptions(type: 0xBE) == .discard(.unrecognisedOption, problem: Problem(
            code: Problem.unrecognisedOption, pointer: 44, evenToMulticast: true)))
        #expect(destinationOptions(type: 0xFE) == .discard(.unrecognisedOption, problem: Problem(
            code: Problem.unrecognisedOption, pointer: 44, evenToMulticast: false)))
    }

    @Test func lengthsNeverLeadPastThePacket() {
        // A header length beyond the payload, an option beyond its header.
        #expect(walk(first: .destinationOptions, [6, 9, 1, 4, 0, 0, 0, 0], upper: 0) == .discard(.truncated, problem: nil))
        #expect(walk(first: .destinationOptions, [6, 0, 1, 9, 0, 0, 0, 0]) == .discard(.truncated, problem: nil))
        #expect(walk(first: .destinationOptions, [6], upper: 0) == .discard(.truncated, problem: nil))
        // A chain longer than the bound stops the walk.
        let header: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0]
        let chain = [UInt8]((0..<9).flatMap { _ in header })
        #expect(walk(first: .destinationOptions, chain) == .discard(.tooManyHeaders, problem: nil))
        // Random headers never crash and never point outside the packet.
        var random = SeededGenerator(seed: 6)
        for _ in 0..<2000 {
            let headers = (0..<Int.random(in: 0...48, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let first = [IPProtocol.hopByHopOptions, .destinationOptions, .ipv6Routing][Int.random(in: 0...2, using: &random)]
            switch walk(first: first, headers, upper: 0) {
            case .upperLayer(_, let offset): #expect(offset <= IPv6Packet.headerLength + headers.count)
            case .discard(_, let problem?): #expect(Int(problem.pointer) < IPv6Packet.headerLength + headers.count)
            case .discard(_, nil): break
            }
        }
    }
}
