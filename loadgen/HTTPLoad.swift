import Histogram
import MTCP
import MTCPHTTP
import MTCPRuntime
import MTCPTLS

/// The HTTP workload of one core: it opens its share of the connections,
/// sends prepared requests, parses and checks every response, and measures.
///
/// Closed loop: each of the core's connections carries one request at a time,
/// up to `--requests-per-connection`, and is replaced when it closes. Open
/// loop: requests start on the core's `OpenLoopSchedule`, on an idle
/// keep-alive connection or a new one (up to the core's share of `-c`); a
/// request that finds none waits, and its latency still counts from its
/// intended start. Requests still waiting when the run ends were never sent:
/// they are the run's shortfall, counted unfinished (see `abandonBacklog`).
///
/// The latency distribution holds every completed request, every request
/// that timed out (at its timeout) and every one that never finished (at the
/// run's end), each from its (intended) start: a server that stalls cannot
/// make its tail look better by not answering. Failures that end early
/// (refused, bad status, ...) stay out of it: they would read as fast responses.
///
/// Per-request work touches only memory allocated in `start`: the slot of
/// the connection (indexed by socket index), the prepared request bytes, the
/// expected bodies, a read buffer and the histograms.
struct HTTPLoad<Device: PacketDevice>: EngineApplication, ~Copyable {
    private enum Phase: UInt8 {
        /// `draining`: after the last response of a connection the server is to
        /// close, waiting for its FIN (see `drain`).
        case free, connecting, handshaking, sending, awaiting, idle, draining

        /// A request is on the connection (neither free, idle nor draining).
        var carriesRequest: Bool { self != .free && self != .idle && self != .draining }
    }

    /// A connection's state, in the slot of its socket index.
    private struct Slot {
        var socket = Socket(rawValue: 0)
        var phase = Phase.free
        /// The workload entry of the current request.
        var entry = 0
        /// Requests completed on this connection.
        var requests = 0
        /// Bytes of the current request written.
        var written = 0
        /// The current request counts in the figures (started after the warm-up).
        var measured = false
        var sawFirstByte = false
        var connectStarted = Instant.zero
        /// Where the current request's latency counts from.
        var origin = Instant.zero
        /// When the current request was completely written (time to first
        /// byte counts from here); nil while it is still being written.
        var sent: Instant?
        /// Connect or response deadline.
        var deadline = Instant.zero
        var bytesRead = 0
        var bodyMismatch = false
        /// A user agent's parser: obs-folds read as spaces (RFC 9112 §5.2).
        var parser = HTTPResponseParser(acceptsObsFold: true)
        /// With TLS: the connection's stream, which every byte passes through.
        var tls: TLSStream?
        var handshakeStarted = Instant.zero
    }

    private let plan: HTTPPlan
    private let core: Int
    private let board: LoadBoard
    /// This core's share of the requests (nil: unlimited) and of the connections.
    private let requestLimit: Int?
    private let concurrency: Int
    private var picker: WorkloadPicker
    private var random: SeededRandom

    private var poll: EventPoll?
    private var slots = UnsafeMutableBufferPointer<Slot>(start: nil, count: 0)
    private var digests: [BodyDigest] = []
    /// Idle keep-alive connections (open loop), as socket indices.
    private var idle = UnsafeMutableBufferPointer<Int32>(start: nil, count: 0)
    private var idleCount = 0
    /// Requests to start again on a new connection (see `isRetryable`), by their origin.
    private var retries = UnsafeMutableBufferPointer<Instant>(start: nil, count: 0)
    private var retryCount = 0
    /// Connections in `.draining` (no longer in `counts.openConnections`).
    private var drainingCount = 0
    /// One past the highest slot in use, to bound the timeout scan.
    private var highWater = 0
    private let events = UnsafeMutableBufferPointer<EventPollEvent>.allocate(capacity: 512)
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 64)
    /// The prepared requests, back to back, and each entry's range in them.
    private var requestBytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var requestRanges: [Range<Int>] = []
    /// The expected bodies, back to back, and each entry's range (nil: not checked).
    private var bodyBytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var bodyRanges: [Range<Int>?] = []
    private var sha256 = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// With TLS: this core's client context, room for ciphertext, and the
    /// session new connections offer (`--tls-resume`).
    private var tlsContext: OpaquePointer?
    private var tlsScratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var tlsSession: OpaquePointer?

    private var counts = LoadCounts()
    private var histograms: LatencyHistograms
    private var seconds: SecondBins
    /// Requests started on this core (measured or not).
    private var issued = 0
    private let cores: Int
    private var schedule: OpenLoopSchedule?
    private var startedAt: Instant?
    private var measureFrom = Instant.zero
    private var stopIssuingAt: Instant?
    private var stopping = false
    /// Open loop: the requests due but never sent have been counted.
    private var backlogAbandoned = false
    private var nextScan = Instant.zero
    /// After this side ran out of sockets or ports, no connection is opened
    /// before this time: retrying every iteration would record a `local`
    /// error each time (thousands a second) instead of waiting for one to free up.
    private var openBlockedUntil = Instant.zero
    /// Whether a connect of this core has ended, in any way (connected, refused,
    /// timed out). Until one has, one connection is open at a time: its SYN
    /// waits while ARP finds the server, and a whole `-c` of them at once would
    /// overflow the neighbour's queue of waiting frames, each SYN dropped there
    /// costing its connection a retransmission a second later.
    private var firstConnectEnded = false
    private var nextPublish = Instant.zero

    init(plan: HTTPPlan, core: Int, cores: Int, board: LoadBoard) {
        self.plan = plan
        self.core = core
        self.board = board
        self.cores = cores
        requestLimit = plan.totalRequests.map { share($0, core, cores) }
        concurrency = share(plan.concurrency, core, cores)  // at least one: `HTTPPlan.check`
        picker = WorkloadPicker(thresholds: plan.workload.thresholds)
        histograms = LatencyHistograms(entries: plan.workload.entries.count)
        // A bin a second, reserved for the whole run when its length is known (an hour otherwise).
        let runSeconds = plan.duration.map { Int(($0.nanoseconds + plan.warmup.nanoseconds) / 1_000_000_000) }
        seconds = SecondBins(reserving: (runSeconds ?? 3600) + 16, wallClockOffset: plan.wallClockOffset)
        // Each core its own sequence: the same seed on every core would pick the same entries.
        random = SeededRandom(seed: plan.seed &+ UInt64(core) &* 0x9E37_79B9)
    }

    deinit {
        for slot in slots.indices where slots[slot].phase != .free { slots[slot].tls?.free() }
        events.deallocate()
        scratch.deallocate()
        slots.deallocate()
        idle.deallocate()
        retries.deallocate()
        requestBytes.deallocate()
        bodyBytes.deallocate()
        sha256.deallocate()
        for digest in digests { digest.release() }
        if let tlsSession { TLSStream.release(session: tlsSession) }
        if let tlsContext { TLSContextFactory.free(tlsContext) }
        tlsScratch.deallocate()
    }

    mutating func start(_ context: inout SocketContext<Device>) throws {
        guard concurrency <= context.socketCapacity - 64 else {
            throw LoadgenError("core \(core) would open \(concurrency) connections but max_concurrency allows "
                + "\(context.socketCapacity - 64): raise max_concurrency in the configuration or lower -c")
        }
        poll = try context.createEventPoll()
        slots = .allocate(capacity: context.socketCapacity)
        slots.initialize(repeating: Slot())
        idle = .allocate(capacity: context.socketCapacity)
        retries = .allocate(capacity: context.socketCapacity)
        if plan.expectedSHA256 != nil { digests = (0..<context.socketCapacity).map { _ in BodyDigest() } }
        (requestBytes, requestRanges) = Self.pack(plan.requests)
        (bodyBytes, bodyRanges) = Self.pack(plan.expectedBodies)
        (sha256, _) = Self.pack([plan.expectedSHA256 ?? []])
        if plan.tls {
            do {
                tlsContext = try TLSContextFactory.client(.unverified)
            } catch {
                throw LoadgenError("core \(core): TLS: \(error)")
            }
            tlsScratch = .allocate(byteCount: 64 * 1024, alignment: 64)
        }
    }

    /// Copies byte strings into one buffer of this core's own; nil entries get no range.
    private static func pack(_ strings: [[UInt8]?]) -> (UnsafeMutableRawBufferPointer, [Range<Int>?]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: strings.reduce(0) { $0 + ($1?.count ?? 0) },
                                                            alignment: 64)
        var offset = 0
        let ranges = strings.map { string -> Range<Int>? in
            guard let string else { return nil }
            string.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]).copyMemory(from: $0) }
            offset += string.count
            return offset - string.count..<offset
        }
        return (buffer, ranges)
    }

    private static func pack(_ strings: [[UInt8]]) -> (UnsafeMutableRawBufferPointer, [Range<Int>]) {
        let (buffer, ranges) = pack(strings.map { Optional($0) })
        return (buffer, ranges.map { $0! })
    }

    // MARK: - The loop

    mutating func handle(_ context: inout SocketContext<Device>) {
        guard let poll else { return }
        let now = context.now
        if startedAt == nil { begin(at: now) }
        issue(&context, now: now)
        if !mayIssue(now: now) { abandonBacklog(now: now) }
        let count = context.wait(poll, into: events)
        for index in 0..<count {
            let event = events[index]
            let socket = Socket(rawValue: event.data)
            let slot = Int(socket.index)
            guard slots[slot].phase != .free, slots[slot].socket == socket else { continue }
            serve(slot, event.events, &context)
        }
        if idleCount > 0 && !mayIssue(now: now) { closeIdle(&context) }
        if now >= nextScan {
            nextScan = now + .milliseconds(10)
            expire(&context, now: now)
        }
        if counts.openConnections == 0 && drainingCount == 0 && retryCount == 0 && !mayIssue(now: now)
            && !counts.finished {
            counts.finished = true
            board.publish(core: core, histograms, seconds)
            board.publish(core: core, counts)
        } else if now >= nextPublish {
            nextPublish = now + .milliseconds(100)
            board.publish(core: core, counts)
        }
    }

    mutating func stopAccepting(_ context: inout SocketContext<Device>) {
        stopping = true
        abandonBacklog(now: context.now)
        closeIdle(&context)
        for slot in 0..<highWater where slots[slot].phase == .draining { close(slot, &context, error: nil) }
    }

    /// Open loop, once no more requests start: counts those whose intended
    /// start had come (before the end of `-d`, or before the stop) but that
    /// never got a connection. Each is unfinished, and enters the latency
    /// distribution at the time from its intended start to now, so an offered
    /// rate that was not achieved shows in the shortfall and in the tail
    /// instead of vanishing.
    private mutating func abandonBacklog(now: Instant) {
        guard let schedule, !backlogAbandoned else { return }
        backlogAbandoned = true
        let end = stopIssuingAt.map { min($0, now) } ?? now
        var index = issued
        while index < requestLimit ?? .max {
            let intended = schedule.intendedStart(of: index)
            guard intended < end else { break }
            if intended >= measureFrom {
                counts.shortfall += 1
                histograms.recordLatency(now.since(intended), entry: picker.pick(random.next()))
            } else {
                counts.warmup += 1
            }
            index += 1
        }
    }

    /// Closes the idle keep-alive connections (no request will need them).
    private mutating func closeIdle(_ context: inout SocketContext<Device>) {
        while idleCount > 0 {
            idleCount -= 1
            close(Int(idle[idleCount]), &context, error: nil)
        }
    }

    /// Also publishes the final figures: after a stop signal the runtime asks
    /// this until the connections are done or the grace period ends, and
    /// measured requests still in flight at that point count as unfinished,
    /// in the latency distribution at the time from their start to now.
    func isFinished(_ context: borrowing SocketContext<Device>) -> Bool {
        var final = counts
        var finalHistograms = histograms
        for slot in 0..<highWater where slots[slot].phase.carriesRequest {
            guard slots[slot].measured else {
                final.warmup += 1  // started in the warm-up: counted there, whatever became of it
                continue
            }
            final.inFlightAtEnd += 1
            finalHistograms.recordLatency(context.now.since(slots[slot].origin), entry: slots[slot].entry)
        }
        for origin in retries[0..<retryCount] {
            guard origin >= measureFrom else {
                final.warmup += 1
                continue
            }
            final.inFlightAtEnd += 1
            finalHistograms.latency.record(context.now.since(origin))  // its entry is picked when it restarts
        }
        board.publish(core: core, finalHistograms, seconds)
        board.publish(core: core, final)
        return context.socketCount == 0
    }

    private mutating func begin(at now: Instant) {
        startedAt = now
        measureFrom = now + plan.warmup
        stopIssuingAt = plan.duration.map { measureFrom + $0 }
        schedule = plan.rate.map { OpenLoopSchedule(start: now, rate: $0, core: core, cores: cores) }
        board.started(at: now, measuringFrom: measureFrom)
    }

    /// Whether another request may start (the schedule aside).
    private func mayIssue(now: Instant) -> Bool {
        if stopping { return false }
        if let requestLimit, issued >= requestLimit { return false }
        if let stopIssuingAt, now >= stopIssuingAt { return false }
        return true
    }

    /// Starts the requests that are due: closed loop, one per missing
    /// connection; open loop, those whose intended start has passed.
    private mutating func issue(_ context: inout SocketContext<Device>, now: Instant) {
        let openLimit = firstConnectEnded ? concurrency : 1
        while retryCount > 0 && !stopping && counts.openConnections < openLimit && now >= openBlockedUntil {
            retryCount -= 1
            guard open(&context, origin: retries[retryCount], now: now, retrying: true) else { break }
        }
        if let schedule {
            while mayIssue(now: now) {
                let intended = schedule.intendedStart(of: issued)
                guard intended <= now else { break }
                if idleCount > 0 {
                    idleCount -= 1
                    let slot = Int(idle[idleCount])
                    begin(request: slot, origin: intended, now: now)
                    send(slot, &context, now: now)
                } else if counts.openConnections < openLimit && now >= openBlockedUntil {
                    guard open(&context, origin: intended, now: now) else { break }
                } else {
                    break  // late: it starts when a connection frees up, its latency counted from `intended`
                }
            }
        } else {
            while counts.openConnections < openLimit && mayIssue(now: now) && now >= openBlockedUntil {
                guard open(&context, origin: now, now: now) else { break }
            }
        }
    }

    /// Opens a connection for a new request whose latency counts from `origin`.
    /// `retrying`: the request was counted when it first started (see `retry`).
    private mutating func open(_ context: inout SocketContext<Device>, origin: Instant,
                               now: Instant, retrying: Bool = false) -> Bool {
        guard let poll else { return false }
        let target = plan.workload.entries[0].target
        let socket: Socket
        do {
            socket = try context.socket()
        } catch {
            failUnopened(error, origin: origin, now: now, retrying: retrying)
            return false
        }
        do {
            try context.connect(socket, to: target.address, port: target.port)
            try context.control(poll, .add, socket, events: [.input, .output, .edgeTriggered], data: socket.rawValue)
        } catch {
            // Out of connections or ports: a request lost on this side.
            try? context.close(socket)
            failUnopened(error, origin: origin, now: now, retrying: retrying)
            return false
        }
        let slot = Int(socket.index)
        slots[slot] = Slot()
        if let tlsContext {
            guard let stream = TLSStream.client(tlsContext, serverName: nil, session: plan.tlsResume ? tlsSession : nil)
            else {
                try? context.abort(socket)
                failUnopened(.noResources, origin: origin, now: now, retrying: retrying)
                return false
            }
            slots[slot].tls = stream
        }
        slots[slot].socket = socket
        slots[slot].phase = .connecting
        slots[slot].connectStarted = now
        slots[slot].deadline = now + plan.connectTimeout
        highWater = max(highWater, slot + 1)
        counts.openConnections += 1
        counts.connectionsOpened += 1
        seconds.noteOpen(counts.openConnections, at: now)
        begin(request: slot, origin: origin, now: now, retrying: retrying)
        return true
    }

    /// A request that could not even get a connection: counted as a local error.
    private mutating func failUnopened(_ error: SocketError, origin: Instant, now: Instant, retrying: Bool) {
        openBlockedUntil = now + .milliseconds(10)
        if !retrying { issued += 1 }
        if origin >= measureFrom {
            if !retrying { counts.attempted += 1 }
            counts.errors[ErrorClass(error, established: false)] += 1
            counts.lastMeasured = now
            seconds.record(at: now, completed: 0, errors: 1, bytesRead: 0)
        } else {
            counts.warmup += 1
        }
    }

    /// Assigns the next request to a connection.
    private mutating func begin(request slot: Int, origin: Instant, now: Instant, retrying: Bool = false) {
        if !retrying { issued += 1 }
        slots[slot].entry = picker.pick(random.next())
        slots[slot].origin = origin
        slots[slot].measured = origin >= measureFrom
        slots[slot].written = 0
        slots[slot].sent = nil
        slots[slot].sawFirstByte = false
        slots[slot].bytesRead = 0
        slots[slot].bodyMismatch = false
        slots[slot].parser.reset()
        if slots[slot].phase != .connecting { slots[slot].deadline = now + plan.readTimeout }
        if !digests.isEmpty { digests[slot].restart() }
        if slots[slot].measured && !retrying { counts.attempted += 1 }
        if slots[slot].phase == .idle { slots[slot].phase = .sending }
    }

    private mutating func serve(_ slot: Int, _ ready: EventPollEvents,
                                _ context: inout SocketContext<Device>) {
        let now = context.now
        if slots[slot].phase == .connecting {
            if ready.contains(.error) || ready.contains(.hangUp) {
                let error = (try? context.pendingError(of: slots[slot].socket)) ?? nil
                return close(slot, &context, error: error.map { ErrorClass($0, established: false) } ?? .refusedOrReset)
            }
            guard ready.contains(.output) else { return }
            firstConnectEnded = true
            if slots[slot].measured { histograms.connect.record(now.since(slots[slot].connectStarted)) }
            if slots[slot].tls != nil {
                slots[slot].phase = .handshaking
                slots[slot].handshakeStarted = now
                slots[slot].deadline = now + plan.connectTimeout
            } else {
                slots[slot].phase = .sending
                slots[slot].deadline = now + plan.readTimeout
            }
        }
        if slots[slot].phase == .handshaking { handshake(slot, &context, now: now) }
        if slots[slot].phase == .sending { send(slot, &context, now: now) }
        if slots[slot].phase != .free && slots[slot].phase != .handshaking { receive(slot, &context, now: now) }
        if slots[slot].phase != .free && ready.contains(.error) {
            let error = (try? context.pendingError(of: slots[slot].socket)) ?? nil
            close(slot, &context, error: error.map { ErrorClass($0, established: true) } ?? .refusedOrReset)
        }
    }

    /// Drives a TLS handshake; once done, the request goes out.
    private mutating func handshake(_ slot: Int, _ context: inout SocketContext<Device>,
                                    now: Instant) {
        guard let stream = slots[slot].tls else { return }
        do {
            guard try stream.handshake(slots[slot].socket, &context, scratch: tlsScratch) else { return }
        } catch {
            return close(slot, &context, error: Self.errorClass(error, established: true))
        }
        if slots[slot].measured {
            histograms.handshake.record(now.since(slots[slot].handshakeStarted))
            if stream.isResumed { counts.tlsResumedHandshakes += 1 } else { counts.tlsFullHandshakes += 1 }
        }
        slots[slot].phase = .sending
        slots[slot].deadline = now + plan.readTimeout
    }

    /// How a failed read, write or handshake counts.
    private static func errorClass(_ error: TLSStreamError, established: Bool) -> ErrorClass {
        switch error {
        case .wouldBlock: .local  // not a failure: callers handle it before
        case .socket(let error): ErrorClass(error, established: established)
        case .failed(let failure): failure.duringHandshake ? .tlsHandshake : .malformedResponse
        }
    }

    /// Writes request bytes: encrypted with TLS, straight to the socket otherwise.
    private mutating func write(_ slot: Int, _ bytes: UnsafeRawBufferPointer,
                                _ context: inout SocketContext<Device>) throws(TLSStreamError) -> Int {
        let socket = slots[slot].socket
        if let stream = slots[slot].tls {
            return try stream.write(bytes, to: socket, &context, scratch: tlsScratch)
        }
        do {
            return try context.write(socket, bytes)
        } catch {
            throw error == .wouldBlock ? .wouldBlock : .socket(error)
        }
    }

    /// Reads response bytes: decrypted with TLS, straight from the socket otherwise.
    private mutating func read(_ slot: Int, into buffer: UnsafeMutableRawBufferPointer,
                               _ context: inout SocketContext<Device>) throws(TLSStreamError) -> Int {
        let socket = slots[slot].socket
        if let stream = slots[slot].tls {
            return try stream.read(into: buffer, from: socket, &context, scratch: tlsScratch)
        }
        do {
            return try context.read(socket, into: buffer)
        } catch {
            throw error == .wouldBlock ? .wouldBlock : .socket(error)
        }
    }

    /// Writes what the send buffer takes of the current request.
    private mutating func send(_ slot: Int, _ context: inout SocketContext<Device>,
                               now: Instant) {
        slots[slot].phase = .sending
        let range = requestRanges[slots[slot].entry]
        let written = slots[slot].written
        let remaining = UnsafeRawBufferPointer(rebasing: requestBytes[range.lowerBound + written..<range.upperBound])
        do {
            slots[slot].written += try write(slot, remaining, &context)
        } catch .wouldBlock {
            return
        } catch {
            if case .socket = error, isRetryable(slot) { return retry(slot, &context) }
            return close(slot, &context, error: Self.errorClass(error, established: true))
        }
        if slots[slot].written == range.count {
            slots[slot].phase = .awaiting
            slots[slot].sent = now
            slots[slot].deadline = now + plan.readTimeout
        }
    }

    /// Reads until the socket has nothing more, feeding the parser.
    private mutating func receive(_ slot: Int, _ context: inout SocketContext<Device>,
                                  now: Instant) {
        while slots[slot].phase != .free {
            let count: Int
            do {
                count = try read(slot, into: scratch, &context)
            } catch .wouldBlock {
                return
            } catch {
                if case .socket(.connectionReset) = error, isRetryable(slot) { return retry(slot, &context) }
                let established = slots[slot].phase != .connecting
                return close(slot, &context, error: Self.errorClass(error, established: established))
            }
            if count == 0 {
                return endOfStream(slot, &context, now: now)
            }
            guard slots[slot].phase == .awaiting || slots[slot].phase == .sending else {
                return unsolicitedBytes(slot, &context)
            }
            if !slots[slot].sawFirstByte {
                slots[slot].sawFirstByte = true
                // A response that begins before the request is fully written (a
                // server answering early) has no time to first byte.
                if slots[slot].measured, let sent = slots[slot].sent { histograms.firstByte.record(now.since(sent)) }
            }
            slots[slot].bytesRead += count
            let bytes = UnsafeRawBufferPointer(rebasing: scratch[0..<count])
            let consumed: Int
            do {
                consumed = try parse(slot, bytes)
            } catch {
                return close(slot, &context, error: ErrorClass(error))
            }
            if slots[slot].parser.isComplete {
                // No pipelining: nothing may follow the response.
                guard consumed == count else { return close(slot, &context, error: .malformedResponse) }
                complete(slot, &context, now: now)
            }
        }
    }

    /// Parses `bytes` for `slot`, checking body bytes as they pass.
    private mutating func parse(_ slot: Int, _ bytes: UnsafeRawBufferPointer) throws(HTTPResponseParseError) -> Int {
        let expected = bodyRanges[slots[slot].entry].map { UnsafeRawBufferPointer(rebasing: bodyBytes[$0]) }
        let digest = digests.isEmpty ? nil : digests[slot]
        var offset = slots[slot].parser.bodyBytes
        var mismatch = slots[slot].bodyMismatch
        let consumed = try slots[slot].parser.parse(bytes) { piece in
            if let expected {
                mismatch = mismatch || offset + piece.count > expected.count
                    || !piece.elementsEqual(UnsafeRawBufferPointer(rebasing: expected[offset..<offset + piece.count]))
            }
            digest?.update(piece)
            offset += piece.count
        }
        slots[slot].bodyMismatch = mismatch
        return consumed
    }

    /// Bytes on an idle or draining connection, after a response that was
    /// counted complete: that response's framing was wrong (its body went on).
    /// It counts as malformed after all (its latency, taken when it looked
    /// complete, stays in the distribution).
    private mutating func unsolicitedBytes(_ slot: Int, _ context: inout SocketContext<Device>) {
        if slots[slot].measured {
            counts.completed -= 1
            counts.errors[.malformedResponse] += 1
            seconds.record(at: context.now, completed: -1, errors: 1, bytesRead: 0)
        }
        close(slot, &context, error: .malformedResponse)
    }

    /// A reused keep-alive connection ended before any byte of the response to
    /// the request just written: the server closed it (its keep-alive limit or
    /// timeout) before that request could reach it, a race on this side and
    /// no fault of the server. The request starts again on a new connection
    /// with its original start, as clients retry such requests (RFC 9112 §9.3.1).
    /// On a fresh connection the same ending is the server's fault.
    private func isRetryable(_ slot: Int) -> Bool {
        slots[slot].requests > 0 && !slots[slot].parser.hasStarted
            && (slots[slot].phase == .sending || slots[slot].phase == .awaiting)
    }

    /// Queues the slot's request for a new connection (opened by `issue`, not
    /// here: the new socket could take this slot while its reads are still going on).
    private mutating func retry(_ slot: Int, _ context: inout SocketContext<Device>) {
        retries[retryCount] = slots[slot].origin
        retryCount += 1
        // Not a failure of the request (`accounted`); a reset, as the connection is dead anyway.
        close(slot, &context, error: .refusedOrReset, accounted: true)
    }

    /// The peer closed: the end of a body delimited by the close, or a short response.
    private mutating func endOfStream(_ slot: Int, _ context: inout SocketContext<Device>,
                                      now: Instant) {
        if slots[slot].phase == .idle || slots[slot].phase == .draining {
            return close(slot, &context, error: nil)  // the server closed a connection with no request on it
        }
        if isRetryable(slot) { return retry(slot, &context) }
        do {
            try slots[slot].parser.finish()
        } catch {
            return close(slot, &context, error: .shortResponse)
        }
        complete(slot, &context, now: now)
    }

    /// A complete response: check, measure, then reuse or close the connection.
    private mutating func complete(_ slot: Int, _ context: inout SocketContext<Device>,
                                   now: Instant) {
        let parser = slots[slot].parser
        var failure: ErrorClass?
        if parser.status != plan.expectedStatus {
            failure = .badStatus
        } else if slots[slot].bodyMismatch
                    || bodyRanges[slots[slot].entry].map({ $0.count != parser.bodyBytes }) == true
                    || (!digests.isEmpty && !digests[slot].matches(UnsafeRawBufferPointer(sha256))) {
            failure = .bodyMismatch
        }
        if let failure {
            return close(slot, &context, error: failure)
        }
        account(slot, error: nil, now: now)
        if plan.tlsResume, let stream = slots[slot].tls, tlsSession == nil || !stream.isResumed,
           let session = stream.session() {
            if let tlsSession { TLSStream.release(session: tlsSession) }
            tlsSession = session
        }
        slots[slot].requests += 1
        let reusable = parser.keepAlive && slots[slot].requests < plan.requestsPerConnection && !stopping
        guard reusable && mayIssue(now: now) else {
            let serverCloses = !parser.keepAlive || plan.requestsPerConnection == 1  // (it said so, or was asked to)
            guard serverCloses && !stopping else { return close(slot, &context, error: nil, accounted: true) }
            return drain(slot, now: now)
        }
        if schedule != nil {
            slots[slot].phase = .idle
            idle[idleCount] = Int32(slot)
            idleCount += 1
        } else {
            begin(request: slot, origin: now, now: now)
            send(slot, &context, now: now)
        }
    }

    /// The last response of a connection that the server is to close: wait for
    /// its FIN (a second at most) instead of closing at once, so that bytes
    /// after the response (its body went on beyond its framing) are caught
    /// even when they come in a later read. The connection no longer counts
    /// against `-c`.
    private mutating func drain(_ slot: Int, now: Instant) {
        slots[slot].phase = .draining
        slots[slot].deadline = now + min(plan.readTimeout, .seconds(1))
        counts.openConnections -= 1
        drainingCount += 1
    }

    /// Counts the end of the slot's current request. A timeout enters the
    /// latency distribution at its deadline (or earlier, when the stack gave up first).
    private mutating func account(_ slot: Int, error: ErrorClass?, now: Instant) {
        guard slots[slot].measured else {
            counts.warmup += 1
            return
        }
        if let error {
            counts.errors[error] += 1
            if error.isTimeout {
                let end = min(now, slots[slot].deadline)
                histograms.recordLatency(end.since(slots[slot].origin), entry: slots[slot].entry)
            }
        } else {
            counts.completed += 1
            histograms.recordLatency(now.since(slots[slot].origin), entry: slots[slot].entry)
        }
        counts.bytesRead += slots[slot].bytesRead
        counts.lastMeasured = now
        seconds.record(at: now, completed: error == nil ? 1 : 0, errors: error == nil ? 0 : 1,
                       bytesRead: slots[slot].bytesRead)
    }

    /// Ends a connection: gracefully after a good response, with a reset after
    /// an error (the connection's state is unknown, and it must cost the
    /// server nothing more). A request in flight is counted with `error`.
    private mutating func close(_ slot: Int, _ context: inout SocketContext<Device>,
                                error: ErrorClass?, accounted: Bool = false) {
        if slots[slot].phase == .connecting { firstConnectEnded = true }
        if slots[slot].phase.carriesRequest && !accounted { account(slot, error: error ?? .shortResponse, now: context.now) }
        if error != nil {
            try? context.abort(slots[slot].socket)
        } else {
            // close_notify first: a session freed without it is marked not
            // resumable by OpenSSL (and `--tls-resume` would find none).
            _ = try? slots[slot].tls?.close(slots[slot].socket, &context, scratch: tlsScratch)
            try? context.close(slots[slot].socket)
        }
        slots[slot].tls?.free()
        slots[slot].tls = nil
        if slots[slot].phase == .idle, let position = idle[0..<idleCount].firstIndex(of: Int32(slot)) {
            idleCount -= 1
            idle[position] = idle[idleCount]
        }
        if slots[slot].phase == .draining {
            drainingCount -= 1
        } else {
            counts.openConnections -= 1
        }
        slots[slot].phase = .free
    }

    /// Fails connections past their connect or response deadline.
    private mutating func expire(_ context: inout SocketContext<Device>, now: Instant) {
        for slot in 0..<highWater where slots[slot].deadline <= now {
            switch slots[slot].phase {
            case .connecting, .handshaking: close(slot, &context, error: .connectTimeout)
            case .sending, .awaiting: close(slot, &context, error: .readTimeout)
            case .draining: close(slot, &context, error: nil)  // the server did not close: no matter
            case .free, .idle: break
            }
        }
    }
}
