import Glibc
import MTCP
import Synchronization

/// The appliance's management plane, on a thread of its own with kernel
/// sockets, never on an engine's core: mTCP's once-a-second statistics lines
/// and a Prometheus endpoint on 127.0.0.1 (in the appliance's network
/// namespace) that serves the engines' counters as text; and the reloads asked
/// for by SIGHUP, prepared here so that the engines only swap in their result.
public final class ManagementPlane: Sendable {
    private let board: StatisticsBoard
    private let printStatistics: Bool
    private let prepareReload: (@Sendable () -> Bool)?
    /// Reads the port's own counters (nil: the driver could not): here, off the
    /// engines' cores, as some drivers make a system call per queue.
    private let portStatistics: (@Sendable () -> DeviceStatistics?)?
    private let listener: Int32
    private let running = Atomic<Bool>(true)

    /// Opens the Prometheus listener (when `prometheusPort` is not 0).
    /// `prepareReload` reads and checks a new configuration on SIGHUP (see
    /// `ConfigurationReloads`).
    public init(board: StatisticsBoard, printStatistics: Bool, prometheusPort: Int,
                prepareReload: (@Sendable () -> Bool)? = nil,
                portStatistics: (@Sendable () -> DeviceStatistics?)? = nil) throws(DPDKError) {
        self.board = board
        self.printStatistics = printStatistics
        self.prepareReload = prepareReload
        self.portStatistics = portStatistics
        listener = prometheusPort == 0 ? -1 : try Self.listen(port: UInt16(prometheusPort))
    }

    /// Runs until `stop`: prints statistics each second, answers scrapes and
    /// prepares reloads.
    public func run() {
        var printer = StatisticsPrinter()
        // The last counters the port gave: a failed read keeps them.
        var port: DeviceStatistics?
        /// The port's counters, read after the engines' `snapshots`: frames that
        /// arrive between the two reads must not make a port that counts look
        /// like one that keeps nothing.
        func readPort(after snapshots: [CoreSnapshot]) -> DeviceStatistics? {
            if let read = portStatistics?() { port = read.kept(engineReceivedFrames: snapshots.total.engine.receivedFrames) }
            return port
        }
        let start = MonotonicClock.now()
        let first = board.read()
        _ = printer.lines(first, port: readPort(after: first), now: start)  // the zero point of the first line's rates
        var nextPrint = start + .seconds(1)
        // From 0, not the count now: a SIGHUP between the handler's installation
        // and this thread's start (the ready line is out by then) is answered too.
        var reloadsSeen: UInt64 = 0
        while running.load(ordering: .relaxed) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 100) > 0 {
                let snapshots = board.read()
                serveScrape(snapshots, port: readPort(after: snapshots))
            }
            ConfigurationReloads.answerSignal(seen: &reloadsSeen, prepare: prepareReload)
            let now = MonotonicClock.now()
            guard now >= nextPrint else { continue }
            nextPrint = now + .seconds(1)
            guard printStatistics else { continue }
            let snapshots = board.read()
            if let lines = printer.lines(snapshots, reloads: ConfigurationReloads.counts,
                                         port: readPort(after: snapshots), now: now) {
                print(lines.joined(separator: "\n"))
                fflush(nil)
            }
        }
        if listener >= 0 { close(listener) }
    }

    public func stop() { running.store(false, ordering: .relaxed) }

    /// How long one scrape may take, request and answer together: a local
    /// scrape takes milliseconds, and a client that sends nothing or never
    /// reads must not hold the management thread for longer.
    static let scrapeTimeout = TimeSpan.seconds(1)

    /// One scrape: read the request (any GET), answer with the exposition of
    /// `snapshots` and the port's counters `port`, close.
    /// The client's socket is non-blocking and every wait on it ends at the
    /// scrape's deadline or at `stop`, so no client can stall the statistics,
    /// later scrapes or the shutdown that joins this thread.
    private func serveScrape(_ snapshots: [CoreSnapshot], port: DeviceStatistics?) {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        defer { close(client) }
        guard fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK) == 0 else { return }
        let deadline = MonotonicClock.now() + Self.scrapeTimeout
        var request = [UInt8](repeating: 0, count: 4096)
        var count: Int
        repeat {
            count = recv(client, &request, request.count, 0)
        } while count < 0 && Self.wouldBlock && wait(for: client, POLLIN, until: deadline)
        guard count > 0 else { return }
        let isMetrics = request[0..<count].starts(with: Array("GET /metrics".utf8))
            || request[0..<count].starts(with: Array("GET / ".utf8))
        let body = isMetrics ? PrometheusExposition.render(snapshots, reloads: ConfigurationReloads.counts, port: port)
            : "not found: try /metrics\n"
        let head = "HTTP/1.1 \(isMetrics ? "200 OK" : "404 Not Found")\r\n"
            + "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        let response = Array((head + body).utf8)
        var sent = 0
        while sent < response.count {
            let written = response[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                sent += written
            } else if written == 0 || !Self.wouldBlock || !wait(for: client, POLLOUT, until: deadline) {
                return  // closing drops what the client did not take
            }
        }
    }

    /// The last socket call failed only because it would have blocked.
    private static var wouldBlock: Bool { errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }

    /// Waits until `client` is ready for `events`, in slices of at most 100 ms
    /// so that `stop` is noticed; false at `deadline`, after `stop`, or when poll fails.
    private func wait(for client: Int32, _ events: Int32, until deadline: Instant) -> Bool {
        while running.load(ordering: .relaxed) {
            let now = MonotonicClock.now()
            guard now < deadline else { return false }
            let milliseconds = min(deadline.since(now).nanoseconds / 1_000_000 + 1, 100)
            var descriptor = pollfd(fd: client, events: Int16(events), revents: 0)
            let ready = poll(&descriptor, 1, Int32(milliseconds))
            if ready > 0 { return true }  // errors surface in the recv or send that follows
            if ready < 0 && errno != EINTR { return false }
        }
        return false
    }

    private static func listen(port: UInt16) throws(DPDKError) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw DPDKError("prometheus: socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(descriptor, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw DPDKError("prometheus: cannot listen on 127.0.0.1:\(port): \(reason)")
        }
        return descriptor
    }
}
