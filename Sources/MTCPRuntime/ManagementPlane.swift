import Glibc
import MTCP
import Synchronization

/// The appliance's management plane, on a thread of its own with kernel
/// sockets, never on an engine's core: mTCP's once-a-second statistics lines
/// and a Prometheus endpoint on 127.0.0.1 (in the appliance's network
/// namespace) that serves the engines' counters as text.
public final class ManagementPlane: Sendable {
    private let board: StatisticsBoard
    private let printStatistics: Bool
    private let listener: Int32
    private let running = Atomic<Bool>(true)

    /// Opens the Prometheus listener (when `prometheusPort` is not 0).
    public init(board: StatisticsBoard, printStatistics: Bool, prometheusPort: Int) throws(DPDKError) {
        self.board = board
        self.printStatistics = printStatistics
        listener = prometheusPort == 0 ? -1 : try Self.listen(port: UInt16(prometheusPort))
    }

    /// Runs until `stop`: prints statistics each second and answers scrapes.
    public func run() {
        var printer = StatisticsPrinter()
        let start = MonotonicClock.now()
        _ = printer.lines(board.read(), now: start)  // the zero point of the first line's rates
        var nextPrint = start + .seconds(1)
        while running.load(ordering: .relaxed) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 100) > 0 { serveScrape() }
            let now = MonotonicClock.now()
            guard now >= nextPrint else { continue }
            nextPrint = now + .seconds(1)
            if printStatistics, let lines = printer.lines(board.read(), now: now) {
                print(lines.joined(separator: "\n"))
                fflush(nil)
            }
        }
        if listener >= 0 { close(listener) }
    }

    public func stop() { running.store(false, ordering: .relaxed) }

    /// One scrape: read the request (any GET), answer with the exposition, close.
    private func serveScrape() {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        defer { close(client) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8](repeating: 0, count: 4096)
        let count = recv(client, &request, request.count, 0)
        guard count > 0 else { return }
        let isMetrics = request[0..<count].starts(with: Array("GET /metrics".utf8))
            || request[0..<count].starts(with: Array("GET / ".utf8))
        let body = isMetrics ? PrometheusExposition.render(board.read()) : "not found: try /metrics\n"
        let head = "HTTP/1.1 \(isMetrics ? "200 OK" : "404 Not Found")\r\n"
            + "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        let response = Array((head + body).utf8)
        var sent = 0
        while sent < response.count {
            let written = response[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return }
            sent += written
        }
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
