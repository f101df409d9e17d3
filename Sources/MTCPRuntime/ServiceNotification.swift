import Glibc

/// systemd's readiness protocol (`Type=notify`, sd_notify(3)), spoken directly:
/// one datagram of `KEY=value` lines to the AF_UNIX socket named by
/// `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`).
/// Without the variable — not run by a service manager — nothing is sent.
/// Start-up and shutdown only; never on the data path.
public enum ServiceNotification {
    /// Sends `state` (e.g. `"READY=1"`) to the service manager, if there is one.
    /// Returns whether it was sent; a failure is not fatal (the manager's own
    /// timeout reports a service that never became ready).
    @discardableResult
    public static func send(_ state: String) -> Bool {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }) else { return false }
        return send(state, to: path)
    }

    /// Sends `state` to the socket at `path` (`@name` for an abstract socket).
    @discardableResult
    public static func send(_ state: String, to path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var name = Array(path.utf8)
        if name.first == UInt8(ascii: "@") { name[0] = 0 }  // the abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !name.isEmpty, name.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count + (name[0] == 0 ? 0 : 1))
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                message.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
        return sent == message.count
    }
}
