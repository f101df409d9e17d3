import Testing
@testable import MTCP

/// The order the data list is served in on a saturated line (`data_scheduling`),
/// against a scripted peer that acknowledges everything once a millisecond. The
/// engine's line is shaped to 100 Mbit/s: 12.5 kB of wire time per millisecond,
/// less than one flow's window, so the line is the bottleneck.
@Suite struct DataSchedulingTests {
    /// Flows from the peer's ports to one engine, each with bytes the engine's
    /// application writes, and the millisecond the peer had each one whole.
    struct Transfers: ~Copyable {
        var peer: RawTCPPeer
        let listener: ListenerID
        var connections: [UInt16: ConnectionID] = [:]
        var firstSequence: [UInt16: UInt32] = [:]
        var received: [UInt16: UInt32] = [:]
        var expected: [UInt16: Int] = [:]
        var finished: [UInt16: Int] = [:]
        var millisecond = 0

        /// The window each flow's ACKs advertise (unscaled), 64 KiB unless set.
        var windows: [UInt16: UInt16] = [:]

        /// Bytes each flow's application still has to write as its buffer frees (`feed`).
        var toWrite: [UInt16: Int] = [:]

        /// Payload bytes each flow has sent, resent ones included.
        var sentPayload: [UInt16: Int] = [:]
        /// Flows whose new segments the peer loses (their retransmissions arrive),
        /// and which it does not acknowledge meanwhile.
        var deaf: Set<UInt16> = []
        /// The end of the highest segment each flow has sent.
        var sentEnd: [UInt16: UInt32] = [:]

        init(_ scheduling: DataScheduling, sendBufferSize: Int = 1 << 20, maxBuffers: Int = 40,
             transmitRateMbps: UInt64 = 100) throws {
            peer = RawTCPPeer(tcp: TCPConfiguration(maxConnections: 64, maxBuffers: maxBuffers,
                                                    sendBufferSize: sendBufferSize, delayedAck: nil,
                                                    dataScheduling: scheduling),
                              transmitRateMbps: transmitRateMbps)
            listener = try peer.engine.listen(port: 80)
        }

        mutating func open(_ port: UInt16, sack: Bool = false) throws {
            peer.peerPort = port
            let handshake = peer.establish(listener: listener,
                                           options: TCPOptions(maximumSegmentSize: 1460, sackPermitted: sack))
            let (isn, connection) = try #require(handshake)
            connections[port] = connection
            firstSequence[port] = isn &+ 1
            received[port] = isn &+ 1
            expected[port] = 0
        }

        mutating func write(_ port: UInt16, bytes: Int) throws {
            let connection = try #require(connections[port])
            let data = [UInt8](repeating: 0x61, count: bytes)
            #expect((try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) == bytes)
            expected[port, default: 0] += bytes
            finished[port] = nil
        }

        /// A flow of `bytes` that its application writes as its send buffer
        /// frees, as a proxy passes on what its upstream sends.
        mutating func plan(_ port: UInt16, bytes: Int) {
            toWrite[port] = bytes
            expected[port] = bytes
            finished[port] = nil
        }

        /// Writes as much of each planned flow as its send buffer takes.
        mutating func feed() throws {
            for (port, left) in toWrite where left > 0 {
                let connection = try #require(connections[port])
                let room = min(peer.engine.writableBytes(connection), left)
                guard room > 0 else { continue }
                let data = [UInt8](repeating: 0x62, count: room)
                let written = (try? data.withUnsafeBytes { try peer.engine.write(connection, $0) }) ?? 0
                toWrite[port] = left - written
            }
        }

        /// One millisecond: every flow acknowledges what it has, the engine runs.
        mutating func tick() {
            peer.advance(.milliseconds(1))
            millisecond += 1
            var replies: [RawTCPPeer.Reply] = []
            for port in connections.keys.sorted() where !deaf.contains(port) {
                peer.peerPort = port
                replies += peer.send(.ack, seq: 1001, ack: received[port]!, window: windows[port] ?? 65535)
            }
            for reply in replies where !reply.payload.isEmpty {
                let port = reply.header.destinationPort
                sentPayload[port, default: 0] += reply.payload.count
                let end = reply.sequence &+ UInt32(reply.payload.count)
                let isNew = sentEnd[port].map { end &- $0 < 1 << 31 && end != $0 } ?? true
                if isNew { sentEnd[port] = end }
                guard !deaf.contains(port) || !isNew else { continue }
                if end &- received[port]! < 1 << 31 { received[port] = end }
            }
            for (port, bytes) in expected where finished[port] == nil && bytes > 0 {
                if Int(received[port]! &- firstSequence[port]!) == bytes { finished[port] = millisecond }
            }
        }
    }

    static let long: UInt16 = 40000
    static let shorts: [UInt16] = (1...10).map { 40000 + $0 }

    /// A 1 MiB flow and ten 4 KiB flows written at one instant, the long one
    /// first; the milliseconds at which each was complete at the peer.
    static func oneLongTenShort(_ scheduling: DataScheduling) throws -> (long: Int, shorts: [Int]) {
        var transfers = try Transfers(scheduling)
        for port in [long] + shorts { try transfers.open(port) }
        try transfers.write(long, bytes: 1 << 20)
        for port in shorts { try transfers.write(port, bytes: 4096) }
        while transfers.finished.count < 11 && transfers.millisecond < 500 { transfers.tick() }
        let longDone = try #require(transfers.finished[long])
        return (longDone, try shorts.map { try #require(transfers.finished[$0]) })
    }

    @Test func fifoServesTheLongFlowFirstToTheEnd() throws {
        let (long, shorts) = try Self.oneLongTenShort(.fifo)
        // 1 MiB at 12.5 kB/ms: about 85 ms, and every short flow waits for it.
        #expect(long >= 80)
        #expect(shorts.allSatisfy { $0 >= long })
    }

    @Test(arguments: [DataScheduling.twoClass, .srpt])
    func shortFlowsFinishFirstAndTheLongOneBarelyLater(_ scheduling: DataScheduling) throws {
        let (long, shorts) = try Self.oneLongTenShort(scheduling)
        let fifo = try Self.oneLongTenShort(.fifo)
        // 40 KiB of short flows take about 3.5 ms of the line.
        #expect(shorts.allSatisfy { $0 <= 6 })
        #expect(shorts.max()! * 10 < long)
        // The long flow waited only for those 40 KiB.
        #expect(long <= fifo.long + 5)
    }

    /// Data arriving on a connection whose own data waits for the line is
    /// acknowledged at once, not when its turn on the data list comes.
    @Test(arguments: DataScheduling.allCases)
    func anAckIsNotHeldBehindItsConnectionsWaitingData(_ scheduling: DataScheduling) throws {
        var transfers = try Transfers(scheduling)
        let waiting: UInt16 = 40001
        try transfers.open(Self.long)
        try transfers.open(waiting)
        try transfers.write(Self.long, bytes: 1 << 20)
        // Twice as long, so that under SRPT the long flow keeps the line (it is
        // also the oldest, so the starvation guard's share goes to it too).
        transfers.peer.engine.declareRemaining(try #require(transfers.connections[waiting]), bytes: 2 << 20)
        try transfers.write(waiting, bytes: 1 << 20)
        for _ in 0..<5 { transfers.tick() }
        transfers.peer.peerPort = waiting
        var replies = transfers.peer.send(.ack, seq: 1001, ack: transfers.received[waiting]!, payload: [1, 2, 3])
        // The long flow keeps its window open, so it keeps the line.
        for _ in 0..<3 {
            transfers.peer.advance(.milliseconds(1))
            transfers.peer.peerPort = Self.long
            let sent = transfers.peer.send(.ack, seq: 1001, ack: transfers.received[Self.long]!)
            for reply in sent where reply.header.destinationPort == Self.long && !reply.payload.isEmpty {
                transfers.received[Self.long] = reply.sequence &+ UInt32(reply.payload.count)
            }
            replies += sent
        }
        #expect(!replies.contains { $0.header.destinationPort == waiting && !$0.payload.isEmpty })
        #expect(replies.contains { $0.header.destinationPort == waiting && $0.acknowledgment == 1004 })
    }

    /// A flow that has declared the rest of its response is long, however little
    /// of it is in the send buffer: a later, really short flow goes first.
    @Test(arguments: [DataScheduling.twoClass, .srpt])
    func aDeclaredRemainderCountsAsPartOfTheFlow(_ scheduling: DataScheduling) throws {
        var transfers = try Transfers(scheduling)
        let declared: UInt16 = 40000, short: UInt16 = 40001
        try transfers.open(declared)
        try transfers.open(short)
        transfers.peer.engine.declareRemaining(try #require(transfers.connections[declared]), bytes: 1 << 20)
        try transfers.write(declared, bytes: 12 * 1024)
        try transfers.write(short, bytes: 12 * 1024)
        while transfers.finished.count < 2 && transfers.millisecond < 100 { transfers.tick() }
        #expect(try #require(transfers.finished[short]) < (try #require(transfers.finished[declared])))
    }

    /// Five 1 MiB flows written at once keep the line busy for about 430 ms, while
    /// a 4 KiB response is written on a new connection every 20 ms: how long each
    /// short one took, and when each long one was complete.
    static func backlogOfLongFlows(_ scheduling: DataScheduling) throws -> (shortFCTs: [Int], longs: [Int]) {
        var transfers = try Transfers(scheduling)
        let longPorts: [UInt16] = (0..<5).map { 40000 + $0 }
        let shortPorts: [UInt16] = (1...22).map { 41000 + $0 }
        for port in longPorts + shortPorts { try transfers.open(port) }
        for port in longPorts { try transfers.write(port, bytes: 1 << 20) }
        var writtenAt: [UInt16: Int] = [:]
        while transfers.finished.count < longPorts.count + shortPorts.count && transfers.millisecond < 1000 {
            let index = transfers.millisecond / 20
            if transfers.millisecond % 20 == 0 && index < shortPorts.count {
                try transfers.write(shortPorts[index], bytes: 4096)
                writtenAt[shortPorts[index]] = transfers.millisecond
            }
            transfers.tick()
        }
        let shortFCTs = try shortPorts.map { try #require(transfers.finished[$0]) - writtenAt[$0]! }
        return (shortFCTs, try longPorts.map { try #require(transfers.finished[$0]) })
    }

    /// Under a persistent backlog of long flows that have all waited far longer
    /// than any short one, an arriving short flow still waits only for the line,
    /// not for the backlog; the long flows all finish, on average no later than
    /// under FIFO (which serves each short one after the whole backlog).
    @Test(arguments: [DataScheduling.twoClass, .srpt])
    func shortFlowsArrivingUnderABacklogOfLongOnesGoFirst(_ scheduling: DataScheduling) throws {
        let (shortFCTs, longs) = try Self.backlogOfLongFlows(scheduling)
        let fifo = try Self.backlogOfLongFlows(.fifo)
        #expect(shortFCTs.max()! <= 3, "\(shortFCTs)")
        #expect(fifo.shortFCTs.max()! > 50)
        // 5 MiB and 88 KiB at 12.5 kB/ms: about 440 ms of line.
        #expect(longs.max()! <= 460, "\(longs)")
        #expect(longs.reduce(0, +) * 100 <= fifo.longs.reduce(0, +) * 115, "\(longs) against FIFO's \(fifo.longs)")
    }

    /// SRPT's starvation guard: short flows keep arriving faster than the line
    /// carries them, so by size alone the 1 MiB flow would never be served; as
    /// the oldest flow it has an eighth of the line and finishes, and the short
    /// flows have the rest.
    @Test func srptKeepsALongFlowMovingUnderAStreamOfShortOnes() throws {
        var transfers = try Transfers(.srpt)
        let shortPorts: [UInt16] = (1...30).map { 41000 + $0 }
        for port in [Self.long] + shortPorts { try transfers.open(port) }
        try transfers.write(Self.long, bytes: 1 << 20)
        var shortsFinished = 0
        for millisecond in 0..<1000 {
            // 16 KiB a millisecond on the next idle short connection: 131 Mbit/s offered.
            let port = shortPorts[millisecond % shortPorts.count]
            if transfers.finished[port] != nil || transfers.expected[port] == 0 {
                if transfers.finished[port] != nil { shortsFinished += 1 }
                try transfers.write(port, bytes: 16 * 1024)
            }
            transfers.tick()
            if transfers.finished[Self.long] != nil { break }
        }
        let longDone = try #require(transfers.finished[Self.long])
        // Without the guard it would still wait; with it, 1 MiB at an eighth of
        // 12.5 kB/ms takes about 670 ms, and no more than that share went to it.
        #expect(longDone > 600 && longDone < 800, "\(longDone)")
        // 16 KiB each in seven eighths of the line: about 440 of them meanwhile.
        #expect(shortsFinished > 350, "\(shortsFinished)")
    }

    /// A flow keeps its place among the oldest while it waits for its peer, not
    /// only while it waits for the line: a 1 MiB flow limited by an 8 KiB window
    /// (8 KiB a round trip of 1 ms, 65 Mbit/s) under 131 Mbit/s of short flows
    /// still has its eighth of the line. Had it gone behind the short flows
    /// waiting then after each window, it would have a turn only once they
    /// were all served, which under this stream is never.
    @Test func srptKeepsTheOldestFlowsPlaceThroughAnEmptyWindow() throws {
        var transfers = try Transfers(.srpt)
        let shortPorts: [UInt16] = (1...30).map { 41000 + $0 }
        for port in [Self.long] + shortPorts { try transfers.open(port) }
        transfers.windows[Self.long] = 8192
        try transfers.write(Self.long, bytes: 1 << 20)
        for millisecond in 0..<1000 {
            let port = shortPorts[millisecond % shortPorts.count]
            if transfers.finished[port] != nil || transfers.expected[port] == 0 {
                try transfers.write(port, bytes: 16 * 1024)
            }
            transfers.tick()
            if transfers.finished[Self.long] != nil { break }
        }
        // An eighth of 12.5 kB/ms, in windows of 7,300 bytes (the runt waits
        // for the next): about 670 ms.
        #expect(try #require(transfers.finished[Self.long]) < 800)
    }

    /// The oldest flow's share is a share, not precedence: an 8 MiB flow that
    /// has had the line to itself for 400 ms is the oldest by far, and a 4 KiB
    /// response written then still goes first.
    @Test func srptPutsANewShortFlowBeforeTheOldestOne() throws {
        var transfers = try Transfers(.srpt, sendBufferSize: 8 << 20, maxBuffers: 4)
        let short: UInt16 = 40001
        try transfers.open(Self.long)
        try transfers.open(short)
        try transfers.write(Self.long, bytes: 8 << 20)
        for _ in 0..<400 { transfers.tick() }
        try transfers.write(short, bytes: 4096)
        let written = transfers.millisecond
        while transfers.finished[short] == nil && transfers.millisecond < 800 { transfers.tick() }
        #expect(try #require(transfers.finished[short]) - written <= 3)
        #expect(transfers.finished[Self.long] == nil)
    }

    /// A flow that declares nothing (a proxied download, written as its 16 KiB
    /// buffer frees, so it never has more than a few KiB unsent) ranks by what it
    /// has already sent: 40 ms into a 1 MiB download that keeps a 50 Mbit/s line
    /// busy, a 4 KiB response goes first instead of waiting for the download.
    @Test(arguments: [DataScheduling.twoClass, .srpt])
    func anUndeclaredFlowRanksByWhatItHasSent(_ scheduling: DataScheduling) throws {
        var transfers = try Transfers(scheduling, sendBufferSize: 16 * 1024, transmitRateMbps: 50)
        let download: UInt16 = 40000, short: UInt16 = 40001
        try transfers.open(download)
        try transfers.open(short)
        transfers.plan(download, bytes: 1 << 20)
        while transfers.millisecond < 40 {
            try transfers.feed()
            transfers.tick()
        }
        try transfers.write(short, bytes: 4096)
        let written = transfers.millisecond
        while transfers.finished[short] == nil && transfers.millisecond < 400 {
            try transfers.feed()
            transfers.tick()
        }
        #expect(try #require(transfers.finished[short]) - written <= 3)
        #expect(transfers.finished[download] == nil)
    }

    /// Any length may be declared (a proxy passing on a peer's Content-Length):
    /// it is clamped, so a write after it on a connection whose earlier bytes
    /// still wait for the peer's window does not overflow the bytes left.
    @Test func anEnormousDeclarationIsClamped() throws {
        var transfers = try Transfers(.srpt)
        let port: UInt16 = 40000
        try transfers.open(port)
        transfers.windows[port] = 0
        transfers.tick()
        try transfers.write(port, bytes: 8192)
        transfers.tick()
        transfers.peer.engine.declareRemaining(try #require(transfers.connections[port]), bytes: .max)
        try transfers.write(port, bytes: 100)
        transfers.windows[port] = nil
        while transfers.finished[port] == nil && transfers.millisecond < 400 { transfers.tick() }
        #expect(transfers.finished[port] != nil)
    }

    // MARK: - SRPT's starvation guard, from a review (issue 16)

    /// Writes 16 KiB on the next idle short connection of `ports` (131 Mbit/s
    /// offered at one a millisecond, more than the 100 Mbit/s line).
    static func offerShortFlow(_ transfers: inout Transfers, _ ports: [UInt16]) throws {
        let port = ports[transfers.millisecond % ports.count]
        if transfers.finished[port] != nil || transfers.expected[port] == 0 {
            try transfers.write(port, bytes: 16 * 1024)
        }
    }

    /// The guard's share goes to the oldest flow on the data list. The oldest
    /// flow of all has a zero window (it waits for its peer, off the list); the
    /// next oldest, 1 MiB under a stream of short flows, still has the share and
    /// finishes. (It used to stall: the age order kept flows that had left the
    /// data list, and the guard waited for the one at its head.)
    @Test func srptGivesTheShareToTheOldestFlowThatCanSend() throws {
        var transfers = try Transfers(.srpt)
        let stalled: UInt16 = 39999, long = Self.long
        let shortPorts: [UInt16] = (1...30).map { 41000 + $0 }
        for port in [stalled, long] + shortPorts { try transfers.open(port) }
        transfers.windows[stalled] = 0
        transfers.tick()
        try transfers.write(stalled, bytes: 1 << 20)
        transfers.tick()
        try transfers.write(long, bytes: 1 << 20)
        while transfers.millisecond < 1000 && transfers.finished[long] == nil {
            try Self.offerShortFlow(&transfers, shortPorts)
            transfers.tick()
        }
        // An eighth of 12.5 kB/ms: about 670 ms.
        #expect(try #require(transfers.finished[long]) < 800)
        #expect(transfers.sentPayload[stalled, default: 0] == 0)
    }

    /// Resent bytes take the line as new ones do, so the oldest flow's turns are
    /// charged for them: after a timeout the 1 MiB flow resends its window from
    /// the data list, and in the next 100 ms it sends, resends included, no more
    /// than its eighth of the line (about 148 kB of payload) and what was due to
    /// it. (Charged only for new bytes, it had its share plus the resent flight.)
    @Test func srptChargesTheOldestFlowForWhatItResends() throws {
        var transfers = try Transfers(.srpt)
        let shortPorts: [UInt16] = (1...30).map { 41000 + $0 }
        for port in [Self.long] + shortPorts { try transfers.open(port) }
        try transfers.write(Self.long, bytes: 1 << 20)
        // Alone on the line for 50 ms, its window opens to the peer's 64 KiB.
        for _ in 0..<50 { transfers.tick() }
        // Then short flows arrive, and its segments are lost and nothing is
        // acknowledged until its RTO fires: a window of them to resend.
        transfers.deaf = [Self.long]
        while transfers.peer.engine.tcpStatistics.timeouts == 0 && transfers.millisecond < 400 {
            try Self.offerShortFlow(&transfers, shortPorts)
            transfers.tick()
        }
        #expect(transfers.peer.engine.tcpStatistics.timeouts == 1)
        transfers.deaf = []
        let before = transfers.sentPayload[Self.long, default: 0]
        let resentBefore = transfers.peer.engine.tcpStatistics.retransmittedSegments
        for _ in 0..<100 {
            try Self.offerShortFlow(&transfers, shortPorts)
            transfers.tick()
        }
        let sent = transfers.sentPayload[Self.long, default: 0] - before
        let resent = transfers.peer.engine.tcpStatistics.retransmittedSegments - resentBefore
        #expect(resent >= 10, "the flight lost is resent: \(resent) segments")
        // 11.87 kB/ms of payload at 100 Mbit/s (1,460 bytes in 1,538 of wire),
        // an eighth of it for 100 ms, plus the most that may be due (64 KiB / 7)
        // and a segment.
        #expect(sent <= 148_300 + 9_363 + 1_460, "\(sent) bytes in 100 ms, \(resent) segments resent")
        #expect(sent >= 100_000, "\(sent) bytes in 100 ms")
    }

    /// The oldest flow's turn is bounded by what is due to it: after 4 KiB sent
    /// by size, a 1 MiB flow whose window opens may send 4096 / 7 bytes (in one
    /// segment) before the 512 KiB flow written with it has the rest of the
    /// line, not as much as the line and its window take (about nine segments).
    @Test func srptBoundsTheOldestFlowsTurnByItsShare() throws {
        var transfers = try Transfers(.srpt)
        let short: UInt16 = 40001, medium: UInt16 = 40002
        for port in [Self.long, short, medium] { try transfers.open(port) }
        transfers.windows[Self.long] = 0
        transfers.tick()
        try transfers.write(Self.long, bytes: 1 << 20)
        transfers.tick()
        try transfers.write(short, bytes: 4096)
        while transfers.finished[short] == nil && transfers.millisecond < 50 { transfers.tick() }
        for _ in 0..<3 { transfers.tick() }
        #expect(transfers.sentPayload[Self.long, default: 0] == 0)
        try transfers.write(medium, bytes: 512 * 1024)
        transfers.windows[Self.long] = nil
        transfers.tick()
        let longSent = transfers.sentPayload[Self.long, default: 0]
        #expect(longSent > 0 && longSent <= 4096 / 7 + 1460, "\(longSent) bytes")
        #expect(transfers.sentPayload[medium, default: 0] >= 7 * 1460)
    }

    /// A flow whose last bytes leave as a tail loss probe has drained its
    /// backlog: its place among the oldest ends (the next response it writes
    /// waits afresh, not from when the first began), and the probe went through
    /// the data list like its other new data (counted in the bytes it has sent,
    /// which rank it). The 1 MiB flow ahead of it in age keeps the head of the
    /// age order the whole time, so nothing else clears its place.
    @Test func srptEndsTheBacklogOfAFlowDrainedByALossProbe() throws {
        var transfers = try Transfers(.srpt)
        let probed: UInt16 = 40001
        try transfers.open(Self.long, sack: true)
        try transfers.open(probed, sack: true)
        try transfers.write(Self.long, bytes: 1 << 20)
        transfers.tick()
        // Eleven segments, ten in the initial window; the peer acknowledges none.
        transfers.deaf = [probed]
        try transfers.write(probed, bytes: 11 * 1460)
        for _ in 0..<20 { transfers.tick() }
        let connection = try #require(transfers.connections[probed])
        let found = transfers.peer.engine.tcp.connections.block(connection)
        let block = try #require(found)
        #expect(transfers.peer.engine.tcpStatistics.tlpProbes == 1)
        #expect(transfers.peer.engine.tcpStatistics.timeouts == 0)
        #expect(block.pointee.unsentBytes == 0)
        #expect(block.pointee.backlogOrder == 0)
        #expect(block.pointee.undeclaredBytesSent == 11 * 1460)
        #expect(transfers.finished[Self.long] == nil)
    }
}

/// Review (s5): a flow whose backlog drains without SND.NXT passing through
/// `advanceSendNext` (an ACK that moves SND.NXT after a timeout) keeps its place
/// among the oldest flows, contrary to `backlogOrder`'s "0 while it has nothing left".
extension DataSchedulingTests {
    @Test func reviewBacklogOrderClearedWhenAnAckDrainsTheFlow() throws {
        var transfers = try Transfers(.srpt)
        let port: UInt16 = 40001
        try transfers.open(port)
        try transfers.open(40002)  // idle: its ACKs run the engine each millisecond
        transfers.deaf = [port]
        try transfers.write(port, bytes: 10 * 1460)
        while transfers.peer.engine.tcpStatistics.timeouts == 0 && transfers.millisecond < 1000 { transfers.tick() }
        #expect(transfers.peer.engine.tcpStatistics.timeouts == 1)
        // The originals did arrive (a spurious timeout): the peer acknowledges all of them.
        transfers.received[port] = transfers.sentEnd[port]
        transfers.deaf = []
        for _ in 0..<5 { transfers.tick() }
        #expect(transfers.finished[port] != nil)
        let connection = try #require(transfers.connections[port])
        let found = transfers.peer.engine.tcp.connections.block(connection)
        let block = try #require(found)
        #expect(block.pointee.remainingBytes == 0)
        #expect(block.pointee.inDataList == false)
        #expect(block.pointee.backlogOrder == 0, "stale age order \(block.pointee.backlogOrder)")
        // The consequence: a response written later on it is older than one
        // that began waiting before it (and takes the guard's share first).
        let other: UInt16 = 40003
        try transfers.open(other)
        try transfers.write(other, bytes: 512 * 1024)
        try transfers.write(port, bytes: 256 * 1024)
        let oldest = transfers.peer.engine.tcp.flowsByAge.top?.id
        #expect(oldest == transfers.connections[other], "the later response is the oldest flow")
    }
}
