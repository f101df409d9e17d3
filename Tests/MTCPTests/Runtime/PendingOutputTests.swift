import Testing
@testable import MTCP
import MTCPRuntime

/// Output that the device refuses outright (a memif port whose peer is absent, a
/// port before link-up: tx_burst takes nothing) is no work: an engine with only
/// such output sleeps as an idle one does instead of polling without end, and
/// the frames are offered again on every iteration, sent once the link is up,
/// and counted when they no longer fit in the queue. The core loop's decisions
/// (`runCore`) are simulated with explicit time on the virtual link.
@Suite struct PendingOutputTests {
    /// Iterations of the core loop from `link.now` until `end` (or `limit`
    /// iterations): poll, flush and the idle policy's decision, a poll or a
    /// yield taking 1 µs of simulated time and a sleep its length.
    private static func run(_ engine: inout Engine<VirtualPort>, _ backoff: inout IdleBackoff, _ link: VirtualLink,
                            until end: Instant, limit: Int = 10_000) -> [IdleBackoff.Action] {
        var actions: [IdleBackoff.Action] = []
        while link.now < end && actions.count < limit {
            let now = link.now
            let sentBefore = engine.statistics.transmittedFrames
            let received = engine.poll(now: now)
            engine.flush(now: now)
            let sent = Int(truncatingIfNeeded: engine.statistics.transmittedFrames &- sentBefore)
            let action = backoff.next(now: now, received: received, sent: sent, outputPending: engine.hasPendingOutput,
                                      nextTimer: engine.nextTimerBoundary(after: now))
            actions.append(action)
            if case .sleep(let microseconds) = action {
                link.now = now + .microseconds(UInt64(microseconds))
            } else {
                link.now = now + .microseconds(1)
            }
        }
        return actions
    }

    private static func engine(_ link: VirtualLink, transmitQueueCapacity: Int = 4096) -> Engine<VirtualPort> {
        EngineNetworkTests.engine(link, mac: EngineNetworkTests.macA, ip: EngineNetworkTests.ipA) {
            $0.transmitQueueCapacity = transmitQueueCapacity
        }
    }

    /// The start-up gratuitous ARP is queued while the link is down: for 5 ms the
    /// engine sleeps (50 µs doubling to 1 ms) and offers the frame again at each
    /// wake-up, rather than polling 5,000 times; the first wake-up after the link
    /// comes up sends it.
    @Test func anEngineWhoseDeviceRefusesEverythingSleepsAndRetries() {
        let link = VirtualLink(seed: 1)
        link.isUp = false
        var engine = Self.engine(link)
        var backoff = IdleBackoff()
        engine.announceAddress(now: link.now)
        let refusedPhase = Self.run(&engine, &backoff, link, until: link.now + .milliseconds(5))
        let waiting = (engine.hasPendingOutput, engine.bufferedFrames)
        #expect(waiting == (false, 1), "the refused frame is kept, and is no work to poll for")
        #expect(refusedPhase.count < 20, "an idle engine sleeps: \(refusedPhase.count) iterations in 5 ms")
        #expect(refusedPhase.first == .sleep(microseconds: 50))
        #expect(refusedPhase.last == .sleep(microseconds: 1000))
        #expect(link.counters.refused == refusedPhase.count, "offered again at every wake-up")
        #expect(link.counters.sent == 0)

        link.isUp = true
        _ = Self.run(&engine, &backoff, link, until: link.now + .microseconds(1))
        #expect(link.counters.sent == 1, "the announcement went at the first wake-up after the link came up")
        let (available, total) = (engine.device.availableBuffers, engine.device.totalBuffers)
        #expect(engine.bufferedFrames == 0 && available == total)
        engine.releaseAll()
    }

    /// With room for one frame, the second announcement (2 s after the first)
    /// finds the queue held by the refused first one: it is dropped and counted,
    /// its buffer given back, and only the first goes once the link is up. The
    /// 2 s pass in a few thousand iterations, the engine asleep.
    @Test func outputThatFindsTheQueueFullOfRefusedFramesIsCounted() {
        let link = VirtualLink(seed: 2)
        link.isUp = false
        var engine = Self.engine(link, transmitQueueCapacity: 1)
        var backoff = IdleBackoff()
        engine.announceAddress(now: link.now)
        let actions = Self.run(&engine, &backoff, link, until: link.now + .milliseconds(2100))
        #expect(actions.count < 2200, "asleep between wake-ups: \(actions.count) iterations")
        #expect(engine.statistics.drops[.transmitQueueFull] == 1)
        #expect(engine.bufferedFrames == 1)

        link.isUp = true
        _ = Self.run(&engine, &backoff, link, until: link.now + .microseconds(1))
        #expect(link.counters.sent == 1)
        let (available, total) = (engine.device.availableBuffers, engine.device.totalBuffers)
        #expect(available == total, "no buffer kept or lost")
        engine.releaseAll()
    }
}
