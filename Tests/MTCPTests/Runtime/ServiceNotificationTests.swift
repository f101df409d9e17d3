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

    /// READY=1 waits for the last core's application to start, and is sent once.
    @Test func readinessWaitsForEveryCore() {
        let sent = Mutex<[String]>([])
        let readiness = StartupReadiness(cores: 2, state: "READY=1") { state in sent.withLock { $0.append(state) } }
        readiness.coreStarted()
        #expect(sent.withLock { $0 }.isEmpty, "one core of two has started")
        readiness.coreStarted()
        #expect(sent.withLock { $0 } == ["READY=1"])
    }
}
