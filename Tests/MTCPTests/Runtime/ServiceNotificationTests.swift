import Glibc
import Synchronization
import Testing
@testable import MTCPRuntime

/// sd_notify without libsystemd: the datagram reaches a socket bound where
/// `$NOTIFY_SOCKET` says, by path or in the abstract namespace.
@Suite struct ServiceNotificationTests {
    /// A datagram socket bound at `name` (`@x` for abstract); returns its descriptor.
    static func bound(_ name: String) -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        precondition(status == 0, "bind \(name): \(errno)")
        return descriptor
    }

    static func receive(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : "(nothing, errno \(errno))"
    }

    @Test func readinessReachesAPathSocket() {
        let path = "/tmp/mtcp-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = Self.bound(path)
        defer { close(descriptor); unlink(path) }
        #expect(ServiceNotification.send("READY=1\nSTATUS=up", to: path))
        #expect(Self.receive(descriptor) == "READY=1\nSTATUS=up")
    }

    @Test func readinessReachesAnAbstractSocket() {
        let name = "@mtcp-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = Self.bound(name)
        defer { close(descriptor) }
        #expect(ServiceNotification.send("STOPPING=1", to: name))
        #expect(Self.receive(descriptor) == "STOPPING=1")
    }

    @Test func nothingIsSentWithoutAManager() {
        #expect(!ServiceNotification.send("READY=1", to: "/tmp/mtcp-no-such-socket-\(getpid())"))
        #expect(!ServiceNotification.send("READY=1", to: ""))
    }

    /// The ready line and READY=1 wait for the last core's application to
    /// start (not the first core's), come in that order, and come once.
    @Test func readinessWaitsForEveryCore() {
        let announced = Mutex<[String]>([])
        let readiness = StartupReadiness(cores: 3, line: "x: ready", state: "READY=1") { line, state in
            announced.withLock { $0 += [line, state] }
        }
        readiness.coreStarted()
        readiness.coreStarted()
        #expect(announced.withLock { $0 }.isEmpty, "two cores of three have started")
        readiness.coreStarted()
        #expect(announced.withLock { $0 } == ["x: ready", "READY=1"])
    }
}
