import Glibc
import Testing
@testable import MTCP
@testable import MTCPRuntime

/// Every process of one boot keys its TCP choices alike, so a 4-tuple reused by
/// a new process continues its old sequence and timestamp spaces.
@Suite struct BootSecretTests {
    /// A directory of its own under /tmp, not made yet (`load` makes it).
    static func scratchDirectory() -> String {
        "/tmp/mtcp-boot-secret-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    static func remove(_ directory: String) {
        unlink(directory + "/tcp-secret")
        rmdir(directory)
    }

    @Test func theFirstLoadMakesTheKeyAndLaterOnesReadIt() throws {
        let directory = Self.scratchDirectory()
        let first = try #require(BootSecret.load(directory: directory))
        let second = try #require(BootSecret.load(directory: directory))
        #expect(first.key0 == second.key0 && first.key1 == second.key1)
        #expect(first.key0 != 0 || first.key1 != 0)
        var status = stat()
        #expect(stat(directory + "/tcp-secret", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600, "the key is its owner's alone")
        #expect(status.st_size == 16)
        Self.remove(directory)
    }

    @Test func aShortKeyFileIsNotTakenAndNothingUsableMeansNil() throws {
        let directory = Self.scratchDirectory()
        mkdir(directory, 0o700)
        let descriptor = open(directory + "/tcp-secret", O_WRONLY | O_CREAT, 0o600)
        #expect(write(descriptor, "short", 5) == 5)
        close(descriptor)
        #expect(BootSecret.load(directory: directory) == nil, "a truncated key is not a key")
        Self.remove(directory)
        #expect(BootSecret.load(directory: "/proc/mtcp-no-such-directory") == nil)
    }
}
