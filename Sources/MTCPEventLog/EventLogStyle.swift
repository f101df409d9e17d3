import Glibc

/// How an event line is written on standard error.
public enum EventLogStyle: Sendable, Equatable {
    /// `mtcp-httpd: [warn] core 0, connection 12: message`: for a terminal or a file.
    case plain
    /// `<4>mtcp-httpd: core 0, connection 12: message`: journald reads the `<N>`
    /// prefix as the line's syslog priority (sd-daemon(3)), strips it, and
    /// `journalctl -p warning` then filters on it.
    case journal

    /// `journal` when standard error is the journal's stream: systemd sets
    /// `$JOURNAL_STREAM` to that stream's `device:inode` (systemd.exec(5)), and a
    /// redirection by the operator changes the descriptor, not the variable.
    public static func detect(descriptor: Int32 = STDERR_FILENO) -> EventLogStyle {
        guard let value = getenv("JOURNAL_STREAM") else { return .plain }
        return matches(String(cString: value), descriptor: descriptor) ? .journal : .plain
    }

    static func matches(_ journalStream: String, descriptor: Int32) -> Bool {
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}
