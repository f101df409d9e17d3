import Testing
@testable import MTCP

/// The Toeplitz hash against the published RSS verification suite (the 82599
/// datasheet's, also Microsoft's "Verifying the RSS Hash Calculation"), and the
/// symmetry that the stack's key gives.
@Suite struct ToeplitzHashTests {
    /// The suite's 40-byte key.
    static let verificationKey: [UInt8] = [
        0x6D, 0x5A, 0x56, 0xDA, 0x25, 0x5B, 0x0E, 0xC2, 0x41, 0x67, 0x25, 0x3D, 0x43, 0xA3, 0x8F, 0xB0,
        0xD0, 0xCA, 0x2B, 0xCB, 0xAE, 0x7B, 0x30, 0xB4, 0x77, 0xCB, 0x2D, 0xA3, 0x80, 0x30, 0xF2, 0x0C,
        0x6A, 0x42, 0xB7, 0x3B, 0xBE, 0xAC, 0x01, 0xFA,
    ]

    struct Vector: Sendable, CustomTestStringConvertible {
        var source: IPv4Address
        var sourcePort: UInt16
        var destination: IPv4Address
        var destinationPort: UInt16
        var addressesOnly: UInt32
        var withPorts: UInt32
        var testDescription: String { "\(source):\(sourcePort) -> \(destination):\(destinationPort)" }
    }

    /// The suite's IPv4 rows: (source, destination, "IPv4" hash, "IPv4 with TCP" hash).
    static let vectors: [Vector] = [
        Vector(source: IPv4Address(66, 9, 149, 187), sourcePort: 2794,
               destination: IPv4Address(161, 142, 100, 80), destinationPort: 1766,
               addressesOnly: 0x323E_8FC2, withPorts: 0x51CC_C178),
        Vector(source: IPv4Address(199, 92, 111, 2), sourcePort: 14230,
               destination: IPv4Address(65, 69, 140, 83), destinationPort: 4739,
               addressesOnly: 0xD718_262A, withPorts: 0xC626_B0EA),
        Vector(source: IPv4Address(24, 19, 198, 95), sourcePort: 12898,
               destination: IPv4Address(12, 22, 207, 184), destinationPort: 38024,
               addressesOnly: 0xD2D0_A5DE, withPorts: 0x5C2B_394A),
        Vector(source: IPv4Address(38, 27, 205, 30), sourcePort: 48228,
               destination: IPv4Address(209, 142, 163, 6), destinationPort: 2217,
               addressesOnly: 0x8298_9176, withPorts: 0xAFC7_327F),
        Vector(source: IPv4Address(153, 39, 163, 191), sourcePort: 44251,
               destination: IPv4Address(202, 188, 127, 2), destinationPort: 1303,
               addressesOnly: 0x5D18_09C5, withPorts: 0x10E8_28A2),
    ]

    @Test(arguments: vectors)
    func matchesTheVerificationSuite(_ vector: Vector) {
        let toeplitz = ToeplitzHash(key: Self.verificationKey)
        #expect(toeplitz.hashAddresses(source: vector.source, destination: vector.destination) == vector.addressesOnly)
        #expect(toeplitz.hash(source: vector.source, destination: vector.destination, sourcePort: vector.sourcePort,
                              destinationPort: vector.destinationPort) == vector.withPorts)
    }

    /// Every direction of every flow hashes alike under the stack's key: the
    /// suite's flows, and a spread of made-up ones.
    @Test func symmetricKeyHashesBothDirectionsAlike() {
        let toeplitz = ToeplitzHash(key: ToeplitzHash.symmetricKey)
        var random = SeededRandom(seed: 14)
        let flows = Self.vectors.map { ($0.source, $0.destination, $0.sourcePort, $0.destinationPort) }
            + (0..<1000).map { _ in
                (IPv4Address(UInt32.random(in: .min ... .max, using: &random)),
                 IPv4Address(UInt32.random(in: .min ... .max, using: &random)),
                 UInt16.random(in: .min ... .max, using: &random), UInt16.random(in: .min ... .max, using: &random))
            }
        for (a, b, pa, pb) in flows {
            #expect(toeplitz.hash(source: a, destination: b, sourcePort: pa, destinationPort: pb)
                == toeplitz.hash(source: b, destination: a, sourcePort: pb, destinationPort: pa))
        }
    }

    /// i40e and ice take a 52-byte key: the stack programs the pattern at that
    /// length, and since an IPv4 TCP hash reads only the key's first 16 bytes,
    /// the port's queues are still the ones `FlowOwnership` predicts with 40.
    @Test func theSymmetricKeyAtAPortsLengthHashesAsAt40Bytes() {
        let long = ToeplitzHash.symmetricKey(length: 52)
        #expect(long.count == 52)
        #expect(Array(long.prefix(40)) == ToeplitzHash.symmetricKey)
        let atFiftyTwo = ToeplitzHash(key: long)
        let atForty = ToeplitzHash(key: ToeplitzHash.symmetricKey)
        for vector in Self.vectors {
            #expect(atFiftyTwo.hash(source: vector.source, destination: vector.destination,
                                    sourcePort: vector.sourcePort, destinationPort: vector.destinationPort)
                == atForty.hash(source: vector.source, destination: vector.destination,
                                sourcePort: vector.sourcePort, destinationPort: vector.destinationPort))
        }
    }

    /// The hash is linear: with the destination port left out (0) and its
    /// contribution XORed back, every suite flow hashes as the NIC does.
    @Test func theDestinationPortsContributionCompletesTheHash() {
        let toeplitz = ToeplitzHash(key: Self.verificationKey)
        for vector in Self.vectors {
            let partial = toeplitz.hash(source: vector.source, destination: vector.destination,
                                        sourcePort: vector.sourcePort, destinationPort: 0)
            #expect(partial ^ toeplitz.destinationPortContribution(vector.destinationPort) == vector.withPorts)
        }
    }

    /// The symmetry is the key's doing, not the hash's: the suite's own key
    /// sends the reverse direction elsewhere.
    @Test func anOrdinaryKeyIsNotSymmetric() {
        let toeplitz = ToeplitzHash(key: Self.verificationKey)
        let vector = Self.vectors[0]
        #expect(toeplitz.hash(source: vector.source, destination: vector.destination, sourcePort: vector.sourcePort,
                              destinationPort: vector.destinationPort)
            != toeplitz.hash(source: vector.destination, destination: vector.source,
                             sourcePort: vector.destinationPort, destinationPort: vector.sourcePort))
    }
}
