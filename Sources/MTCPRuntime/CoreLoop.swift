import Glibc
import MTCP
import MTCPDPDK
import MTCPEventLog

/// How each core's loop runs, the same for every core.
struct CoreSettings: Sendable {
    var idleBackoff: IdleBackoff
    /// Whether idle waits are on the queue's receive interrupt (`idleBackoff` is then `interruptDriven`).
    var receiveInterrupts = false
    /// After a stop signal, how long the application serves on while it tells
    /// health checkers it is going away (`drain_s`).
    var drain = TimeSpan.zero
    /// How long open connections may take to finish once listeners are closed.
    var grace: TimeSpan
    /// The pcap file name pattern and size limit, when capturing.
    var capture: (path: String, maximumBytes: Int)?
    /// How many cores run: with more than one, each core captures to a file of its own.
    var cores: Int
    /// Unix time minus the monotonic clock, for capture timestamps.
    var epochOffsetNanoseconds: Int64
    /// After a stop, how long closing handshakes may take once the application is done.
    var closingTime = TimeSpan.seconds(1)
    /// How often a core publishes its statistics.
    var publishInterval = TimeSpan.milliseconds(500)
    /// Told when the core's application has started (systemd's READY=1).
    var readiness: StartupReadiness?
    /// What the kernel keeps when an exception path is attached.
    var kernelTraffic = KernelTraffic()
    /// Where the core's events go (the core's logger is made from it).
    var eventLog: EventLog
}

/// The end of one core's run: its last statistics, or why it could not run.
struct CoreOutcome: Sendable {
    var snapshot: CoreSnapshot
    var failure: String?
}

/// One core's run-to-completion loop (DESIGN.md §3): receive burst and protocol
/// input, timers and the batch of events (`SocketContext.poll`), the
/// application, then output in priority order and the transmit burst (`flush`);
/// idle back-off when nothing arrives; statistics published, and reload
/// requests passed on, twice a second.
///
/// On a stop signal the application drains (when `drain_s` asks for it), then
/// stops accepting, open connections get up to the grace period to finish, then
/// the loop ends (`StopSequence`).
func runCore<Application: EngineApplication & ~Copyable>(
    core: Int, device: consuming DPDKQueue, kernelDevice: DPDKQueue?, configuration: EngineConfiguration,
    settings: CoreSettings,
    board: StatisticsBoard, makeApplication: (Int) throws -> Application
) -> CoreOutcome where Application.Device == DPDKQueue {
    var clock = CycleClock()
    let start = clock?.now() ?? MonotonicClock.now()
    // On this core's thread: the wait uses the thread's own epoll instance. A
    // queue that will not register falls back to sleeping (`backoff`).
    let interrupts = settings.receiveInterrupts ? ReceiveInterrupts(port: device.port, queue: device.queue) : nil
    var configuration = configuration
    configuration.core = core
    var context = SocketContext(engine: Engine(device: device, configuration: configuration, now: start), now: start)
    if let kernelDevice {
        context.engine.attachExceptionPath(ExceptionPath(device: kernelDevice, kept: settings.kernelTraffic))
    }
    var snapshot = CoreSnapshot(core: core)
    if let capture = settings.capture {
        do {
            let path = settings.cores == 1 ? capture.path : perCorePath(capture.path, core: core)
            context.engine.capture = try PacketCapture(path: path, maximumBytes: capture.maximumBytes,
                                                       epochOffsetNanoseconds: settings.epochOffsetNanoseconds)
        } catch {
            StopSignal.request()
            return CoreOutcome(snapshot: snapshot, failure: "core \(core): \(error)")
        }
    }
    // Read before the application is made from the configuration in force: a
    // reload published while it starts is then taken once it runs.
    var reloads = CoreReloadState(generation: ConfigurationReloads.generation)
    var application: Application
    do {
        application = try makeApplication(core)
    } catch {
        return startFailure(core, error, &context)
    }
    do {
        try application.start(&context)
    } catch {
        return startFailure(core, error, &context)
    }
    settings.readiness?.coreStarted()
    if core == 0 { context.engine.announceAddress(now: start) }  // the port is up: tell the neighbours our MAC
    // Every core holds its IPv6 addresses tentative for the same second; one probes.
    context.engine.detectDuplicateAddresses(now: start, sendingProbes: core == 0)
    var backoff = settings.receiveInterrupts && interrupts == nil ? IdleBackoff() : settings.idleBackoff
    var stop = StopSequence(drain: settings.drain, grace: settings.grace, closingTime: settings.closingTime)
    var nextPublish = start
    var load = CoreLoad(start: start)
    var reopensSeen = ReloadSignal.reopenGeneration
    while true {
        let now = clock?.now() ?? MonotonicClock.now()
        load.iterationStarted(at: now)
        let sentBefore = context.engine.statistics.transmittedFrames
        let received = context.poll(now: now)
        application.handle(&context)
        context.flush()
        let sent = Int(truncatingIfNeeded: context.engine.statistics.transmittedFrames &- sentBefore)
        load.iterationEnded(worked: received > 0 || sent > 0)
        if StopSignal.isRequested {
            switch stop.next(now: now, skipDrain: StopSignal.skipsDrain) {
            case .none: break
            case .startDraining:
                application.startDraining(&context)
                if core == 0 {
                    let seconds = settings.drain.nanoseconds / 1_000_000_000
                    settings.eventLog.logger(core: core).notice(
                        "stopping: draining for \(seconds) s before the listeners close (a second signal skips the drain)")
                }
            case .stopAccepting: application.stopAccepting(&context)
            }
            if stop.isOver(now: now, applicationFinished: application.isFinished(context),
                           openConnections: context.engine.connectionCount) {
                break
            }
        }
        if now >= nextPublish {
            nextPublish = now + settings.publishInterval
            // Reloads and SIGUSR1 are checked here, off the per-iteration path, as often as statistics.
            if let generation = reloads.newGeneration() {
                do {
                    try application.reload(&context)
                    reloads.succeeded(generation)
                } catch {
                    settings.eventLog.logger(core: core).error("\(reloads.failed(generation, error))")
                }
            }
            let previous = snapshot
            snapshot = context.snapshot(core: core, load: load)
            snapshot.recentBusyPercent = snapshot.busyPercent(since: previous)
            snapshot.application = application.counters()
            snapshot.reloads = (reloads.applied, reloads.failures)
            board.publish(snapshot)
            if ReloadSignal.reopenGeneration != reopensSeen {
                reopensSeen = ReloadSignal.reopenGeneration
                application.reopenLogs()
            }
        }
        IdleBackoff.perform(backoff.next(now: now, received: received, sent: sent,
                                         outputPending: context.hasPendingOutput,
                                         nextTimer: context.engine.nextTimerBoundary(after: now)),
                            interrupts: interrupts)
    }
    snapshot = context.snapshot(core: core, load: load)
    snapshot.application = application.counters()
    snapshot.reloads = (reloads.applied, reloads.failures)
    board.publish(snapshot)
    context.releaseAll()
    return CoreOutcome(snapshot: snapshot, failure: nil)
}

/// Stops every core after an application failed to start on `core`.
private func startFailure<Device: PacketDevice>(_ core: Int, _ error: any Error,
                                                _ context: inout SocketContext<Device>) -> CoreOutcome {
    StopSignal.request()
    context.releaseAll()
    return CoreOutcome(snapshot: CoreSnapshot(core: core),
                       failure: "core \(core): the application could not start: \(error)")
}

extension SocketContext {
    /// This core's counters for the statistics board.
    func snapshot(core: Int, load: CoreLoad) -> CoreSnapshot {
        var snapshot = CoreSnapshot(core: core)
        snapshot.engine = engine.statistics
        snapshot.tcp = engine.tcpStatistics
        snapshot.connections = engine.connectionCount
        snapshot.connectionCapacity = engine.connectionCapacity
        snapshot.sockets = socketCount
        snapshot.outputBacklog = engine.outputBacklog
        snapshot.framesCaptured = engine.capture?.framesCaptured ?? 0
        snapshot.framesNotCaptured = engine.capture?.framesNotCaptured ?? 0
        snapshot.busyNanoseconds = load.busyNanoseconds
        snapshot.idleNanoseconds = load.idleNanoseconds
        return snapshot
    }
}

/// `NAME-coreN.EXT` for `NAME.EXT` (or `PATH-coreN` without an extension).
func perCorePath(_ path: String, core: Int) -> String {
    let name = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return path + "-core\(core)" }
    return String(path[..<dot]) + "-core\(core)" + String(path[dot...])
}
