import Glibc
import Testing
@testable import MTCP
@testable import MTCPRuntime

/// Every process of one boot keys its TCP choices alike, so a 4-tuple reused by
/// a new process continues its old sequence and timestamp spaces; a key someone
/// else could have planted or read is not taken.
@Suite struct BootSecretTests {
    /// A directory of its own under /tmp, not made yet (`load` makes it).
    static func scratchDirectory() -> String {
        "/tmp/mtcp-boot-secret-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    static func remove(_ directory: String) {
        unlink(directory + "/tcp-secret")
        rmdir(directory)
    }

    /// Makes `directory` (mode `mode`) with a tcp-secret of `bytes`.
    static func plant(_ bytes: [UInt8], in directory: String, mode: mode_t = 0o700) {
        mkdir(directory, mode)
        chmod(directory, mode)
        let descriptor = open(directory + "/tcp-secret", O_WRONLY | O_CREAT, 0o600)
        #expect(write(descriptor, bytes, bytes.count) == bytes.count)
        close(descriptor)
    }

    @Test func theFirstLoadMakesTheKeyAndLaterOnesReadIt() throws {
        let directory = Self.scratchDirectory()
        defer { Self.remove(directory) }
        let first = try #require(BootSecret.load(directory: directory))
        let second = try #require(BootSecret.load(directory: directory))
        #expect(first.key0 == second.key0 && first.key1 == second.key1)
        var status = stat()
        #expect(stat(directory + "/tcp-secret", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600, "the key is its owner's alone")
        #expect(status.st_size == 16)
        #expect(stat(directory, &status) == 0 && status.st_mode & 0o077 == 0)
    }

    @Test func aPlantedOrDamagedKeyIsNotTaken() {
        let directory = Self.scratchDirectory()
        defer { Self.remove(directory) }
        Self.plant(Array("short".utf8), in: directory)
        #expect(BootSecret.load(directory: directory) == nil, "a truncated key is not a key")
        Self.remove(directory)
        Self.plant([UInt8](repeating: 0, count: 16), in: directory)
        #expect(BootSecret.load(directory: directory) == nil, "nor is an all-zero one")
        Self.remove(directory)
        Self.plant((1...16).map { UInt8($0) }, in: directory, mode: 0o755)
        #expect(BootSecret.load(directory: directory) == nil, "nor one in a directory others may read")
        Self.remove(directory)
        Self.plant((1...16).map { UInt8($0) }, in: directory)
        chmod(directory + "/tcp-secret", 0o640)
        #expect(BootSecret.load(directory: directory) == nil, "nor a key its group may read")
        Self.remove(directory)
        // A link to a key that would do itself (private, 16 bytes): not followed.
        let elsewhere = Self.scratchDirectory()
        defer { Self.remove(elsewhere) }
        Self.plant((1...16).map { UInt8($0) }, in: elsewhere)
        mkdir(directory, 0o700)
        symlink(elsewhere + "/tcp-secret", directory + "/tcp-secret")
        #expect(BootSecret.load(directory: directory) == nil, "nor a symbolic link")
        #expect(BootSecret.load(directory: elsewhere) != nil, "the key it points to is usable")
        #expect(BootSecret.load(directory: "/proc/mtcp-no-such-directory") == nil)
    }
}
