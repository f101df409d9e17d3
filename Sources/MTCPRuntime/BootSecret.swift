import Glibc
import MTCP

/// The key of the TCP layer's keyed choices (initial sequence numbers, timestamp
/// offsets, ephemeral ports' offsets, SYN cookies), one per boot and shared by
/// every mtcp-swift process, as Linux keeps one per boot: a 4-tuple reused by a
/// new process (a loadgen run after another, a restarted appliance) then gets an
/// initial sequence number and TSvals above its previous incarnation's, on the
/// same clock (RFC 6528, RFC 7323 §7.1), and the peer's TIME-WAIT takes the new
/// SYN (RFC 6191, Linux) instead of answering it with the old connection's ACK;
/// with a key per process, about half of the reuses cost the client a reset and
/// a 1 s SYN timeout.
///
/// Kept in a file of its own under `/run` (memory: gone at reboot, like the
/// kernel's key; deleting it rotates it for the processes started after). The
/// directory and the file must be private (no access for group or others), not
/// symbolic links, and the file a regular one of exactly the key's length: a
/// planted key would make every choice predictable. Without a usable one (no
/// such directory, not writable, not private, or a key file refused for its
/// type, mode, size or content, which stays refused until someone deletes it)
/// each process keys itself at random, as before.
public enum BootSecret {
    public static let defaultDirectory = "/run/mtcp-swift"
    static let fileName = "tcp-secret"
    static let length = 16

    /// The boot's key from `directory`, created there by the first process
    /// (written whole, then linked into place, so a process racing it reads
    /// either nothing or the whole key); nil when no usable key can be read or made.
    public static func load(directory: String = defaultDirectory) -> SipHash? {
        mkdir(directory, 0o700)
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folder >= 0 else { return nil }
        defer { close(folder) }
        guard privateStatus(folder, type: S_IFDIR) != nil else { return nil }
        if let key = read(in: folder) { return key }
        var random = SystemRandomNumberGenerator()
        let key = SipHash(using: &random)
        let staging = "\(fileName).\(UInt64.random(in: 0...UInt64.max, using: &random))"
        guard write(key, to: staging, in: folder) else { return nil }
        // linkat(2) fails if the key is there already (another process won): theirs is kept.
        _ = linkat(folder, staging, folder, fileName, 0)
        unlinkat(folder, staging, 0)
        return read(in: folder)
    }

    /// The status of the open file `descriptor` when it is of `type` and no one
    /// but its owner may use it, else nil.
    private static func privateStatus(_ descriptor: Int32, type: mode_t) -> stat? {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == type, status.st_mode & 0o077 == 0
        else { return nil }
        return status
    }

    private static func read(in folder: Int32) -> SipHash? {
        let descriptor = openat(folder, fileName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard privateStatus(descriptor, type: S_IFREG)?.st_size == length else { return nil }
        var words: (UInt64, UInt64) = (0, 0)
        let count = withUnsafeMutableBytes(of: &words) { Glibc.read(descriptor, $0.baseAddress, length) }
        guard count == length, words != (0, 0) else { return nil }
        return SipHash(key0: words.0, key1: words.1)
    }

    private static func write(_ key: SipHash, to name: String, in folder: Int32) -> Bool {
        let descriptor = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var words = (key.key0, key.key1)
        let count = withUnsafeBytes(of: &words) { Glibc.write(descriptor, $0.baseAddress, length) }
        if count != length { unlinkat(folder, name, 0) }
        return count == length
    }
}
