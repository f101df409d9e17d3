import MTCP
import MTCPHTTPServer
import MTCPServices

/// What runs on each core of the appliance: the HTTP server, and beside it the
/// echo and discard services (for interoperability tests and diagnostics).
struct Appliance<Device: PacketDevice>: EngineApplication, ~Copyable {
    var http: HTTPServer<Device>
    var services: TCPServices<Device>

    mutating func start(_ context: inout SocketContext<Device>) throws {
        try http.start(&context)
        try services.start(&context)
    }

    mutating func handle(_ context: inout SocketContext<Device>) {
        http.handle(&context)
        services.handle(&context)
    }

    func counters() -> [ApplicationCounter] { http.counters() }

    mutating func reload(_ context: inout SocketContext<Device>) throws { try http.reload(&context) }

    mutating func reopenLogs() { http.reopenLogs() }

    mutating func startDraining(_ context: inout SocketContext<Device>) { http.startDraining(&context) }

    mutating func stopAccepting(_ context: inout SocketContext<Device>) {
        http.stopAccepting(&context)
        services.stopAccepting(&context)
    }
}
