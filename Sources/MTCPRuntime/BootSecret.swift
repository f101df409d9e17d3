import Glibc
import MTCP

/// The key of the TCP layer's keyed choices (initial sequence numbers, timestamp
/// offsets, ephemeral ports, SYN cookies), one per boot and shared by every
/// mtcp-swift process, as Linux keeps one per boot: a 4-tuple reused by a new
/// process (a loadgen run after another, a restarted appliance) then gets an
/// initial sequence number and TSvals above its previous incarnation's, on the
/// same clock (RFC 6528, RFC 7323 §7.1), and the peer's TIME-WAIT takes the new
/// SYN (RFC 6191, Linux) instead of answering it with the old connection's ACK;
/// with a key per process, about half of the reuses cost the client a reset and
/// a 1 s SYN timeout.
///
/// Kept in a file of its own, readable by its owner only, under `/run` (memory:
/// gone at reboot, like the kernel's key). Without it (no such directory, not
/// writable) each process keys itself at random, as before.
public enum BootSecret {
    public static let defaultDirectory = "/run/mtcp-swift"
    static let fileName = "tcp-secret"
    static let length = 16

    /// The boot's key from `directory`, created there by the first process
    /// (written whole, then linked into place, so a process racing it reads
    /// either nothing or the whole key); nil when it can be neither read nor made.
    public static func load(directory: String = defaultDirectory) -> SipHash? {
        let path = directory + "/" + fileName
        if let key = read(path) { return key }
        mkdir(directory, 0o700)
        var random = SystemRandomNumberGenerator()
        let key = SipHash(using: &random)
        let staging = "\(path).\(getpid())"
        guard write(key, to: staging) else { return read(path) }
        // link(2) fails if the key is there already (another process won): theirs is kept.
        _ = link(staging, path)
        unlink(staging)
        return read(path)
    }

    private static func read(_ path: String) -> SipHash? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var words: (UInt64, UInt64) = (0, 0)
        let count = withUnsafeMutableBytes(of: &words) { Glibc.read(descriptor, $0.baseAddress, length) }
        guard count == length else { return nil }
        return SipHash(key0: words.0, key1: words.1)
    }

    private static func write(_ key: SipHash, to path: String) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var words = (key.key0, key.key1)
        let count = withUnsafeBytes(of: &words) { Glibc.write(descriptor, $0.baseAddress, length) }
        if count != length { unlink(path) }
        return count == length
    }
}
