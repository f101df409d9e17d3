import Testing
@testable import MTCPHTTP

/// The normalised path as a string, or the non-path result.
func normalize(_ target: String, capacity: Int = 256) -> String {
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
    defer { output.deallocate() }
    let result = withBytes(target) { HTTPTargetPath.normalize($0, into: output) }
    switch result {
    case .path(let length, let query):
        let path = String(decoding: output[0..<length], as: UTF8.self)
        guard let query else { return path }
        return path + " ? " + String(decoding: Array(target.utf8)[query.start..<query.end], as: UTF8.self)
    case .asterisk: return "*"
    case .outsideRoot: return "outside"
    case .invalid: return "invalid"
    case .tooLong: return "too long"
    }
}

@Suite struct HTTPTargetPathTests {
    @Test(arguments: [
        ("/", "/"),
        ("/index.html", "/index.html"),
        ("/a/b/c", "/a/b/c"),
        ("/a/b/", "/a/b/"),
        ("/a//b///c", "/a/b/c"),
        ("/a/./b", "/a/b"),
        ("/a/.", "/a/"),
        ("/a/b/..", "/a/"),
        ("/a/b/../c", "/a/c"),
        ("/a/b/../../c", "/c"),
        ("/a/..", "/"),
        ("/./", "/"),
        ("/a/.../b", "/a/.../b"),
        ("/a/..b/.c", "/a/..b/.c"),
        ("/%7Euser/a%20b.html", "/~user/a b.html"),
        ("/caf%C3%A9", "/café"),
        ("/a/%2e%2e/b", "/b"),
        ("/a/%2E./b", "/b"),
        ("/a/.%2e", "/"),
        ("/a/%2e", "/a/"),
        ("/search?q=a/../b", "/search ? q=a/../b"),
        ("/?", "/ ? "),
        ("/a%3Fb", "/a?b"),
        ("*", "*"),
        ("http://example.com/a/../b?x", "/b ? x"),
        ("HTTPS://example.com", "/"),
        ("http://example.com?x=1", "/ ? x=1"),
    ])
    func normalises(_ target: String, _ expected: String) {
        #expect(normalize(target) == expected)
    }

    @Test(arguments: [
        "/..", "/../", "/../etc/passwd", "/a/../..", "/a/../../b", "/%2e%2e/etc/passwd", "/%2E%2E", "/.%2e/x",
        "/%2e./x", "/a/b/../../../c", "http://h/../x", "/./../x",
    ])
    func traversalAboveTheRootIsOutsideRoot(_ target: String) {
        #expect(normalize(target) == "outside")
    }

    @Test(arguments: [
        "/..%2f..%2fetc/passwd", "/a%2fb", "/a%2F..", "/..%5c..%5cwindows", "/a\\..\\b", "/a%00.html", "/a%0a",
        "/a%7f", "/%", "/%2", "/%zz", "/a#frag", "example.com:443", "ftp://h/x", "http:/x", "http://", "", "a/b",
    ])
    func forbiddenEncodingsAreInvalid(_ target: String) {
        #expect(normalize(target) == "invalid")
    }

    @Test func theOutputBufferBoundsThePath() {
        #expect(normalize("/abc", capacity: 4) == "/abc")
        #expect(normalize("/abcd", capacity: 4) == "too long")
        #expect(normalize("/abc/", capacity: 4) == "too long")
        // Segments are decoded into the output before dot segments are recognised.
        #expect(normalize("/ab/../cd", capacity: 6) == "/cd")
        #expect(normalize("/ab/../cd", capacity: 5) == "too long")
        #expect(normalize("/", capacity: 0) == "too long")
    }

    /// `normalize` copies a path with nothing to undo in one pass and walks the
    /// rest: both must give the same answer for every target. Targets are drawn
    /// from the bytes that matter (separators, dots, escapes, a query, a
    /// fragment, a backslash, bytes outside VCHAR) and a letter, with output
    /// buffers just too small, exact and roomy.
    @Test func theOnePassCopyAgreesWithTheWalkOnEveryTarget() {
        let alphabet: [UInt8] = Array("/./a%2e?#\\".utf8) + [0x20, 0x7F, 0xC3, 0x41]
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var disagreements: [String] = []
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 60)
            // Most start with `/`, as the one-pass copy needs.
            var target: [UInt8] = length % 4 == 0 ? [] : [UInt8(ascii: "/")]
            for _ in 0..<length {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                target.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            for capacity in [max(length - 1, 0), length, 64] {
                let fast = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
                let slow = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
                defer { fast.deallocate(); slow.deallocate() }
                let (normalized, walked) = target.withUnsafeBytes {
                    (HTTPTargetPath.normalize($0, into: fast), HTTPTargetPath.walk($0, into: slow))
                }
                var same = normalized == walked
                if case .path(let length, _) = normalized { same = same && Array(fast[..<length]) == Array(slow[..<length]) }
                if !same { disagreements.append("\(target) in \(capacity): \(normalized) against \(walked)") }
            }
        }
        let firstFew = disagreements.prefix(5)
        #expect(disagreements.count == 0, "\(firstFew)")
    }
}
