// libFuzzer target for the HTTP library's input path: every input is the bytes a
// client sent on a connection. They go through the request-head parser (whole, and
// again split at a point chosen by the input: both must agree), the request-target
// normaliser, the chunked decoder over what follows the head (whole and split, again
// agreeing), and the date and range parsers over the fields that feed them. A trap,
// a sanitizer report or a disagreement is a finding.
//
// Built with `make fuzz` (-sanitize=fuzzer,address -DFUZZING), `main` hands over to
// libFuzzer's driver. Built normally, the same program is a replayer:
// `mtcp-fuzz-http FILE...` runs each file through the same path.
import FuzzDriver
import Glibc
import MTCPHTTP

/// Buffers reused across inputs, as a server core reuses its own.
struct HTTPParserHarness {
    let path = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
    let limits = HTTPLimits(maxRequestLineLength: 2048, maxHeaderCount: 32, maxHeaderBytes: 4096,
                            maxBodyBytes: 1 << 20, maxChunkLineLength: 256)

    func run(_ input: UnsafeRawBufferPointer) {
        let split = input.isEmpty ? 0 : Int(input[input.count - 1]) * 7919 % (input.count + 1)
        let whole = parse(input, cut: nil)
        let pieces = parse(input, cut: split)
        guard whole == pieces else { fatalError("parser: split at \(split) gives \(pieces), whole gives \(whole)") }
        guard case .success(let head?) = whole else { return }
        guard head.headLength <= input.count else { fatalError("head longer than the input") }

        checkPath(head.target.bytes(in: input))
        for field in head.fields(in: input) where field.name.isEmpty { fatalError("empty field name") }
        if let since = head.ifModifiedSince { _ = HTTPDate.parse(since.bytes(in: input), now: 1_700_000_000) }
        if let range = head.range {
            if case .satisfiable(let first, let last) = HTTPRangeRequest(range.bytes(in: input), length: 1000),
               first < 0 || last >= 1000 || first > last {
                fatalError("range \(first)-\(last) outside 0..<1000")
            }
        }
        let body = UnsafeRawBufferPointer(rebasing: input[head.headLength...])
        let wholeBody = decode(body, cut: nil)
        let splitBody = decode(body, cut: split % (body.count + 1))
        guard wholeBody == splitBody else { fatalError("chunked: split gives \(splitBody), whole gives \(wholeBody)") }
    }

    /// The parser's outcome feeding `input` whole, or in two calls.
    func parse(_ input: UnsafeRawBufferPointer, cut: Int?) -> Result<HTTPRequestHead?, HTTPParseError> {
        var parser = HTTPRequestParser(limits: limits)
        if let cut {
            switch Result(catching: { () throws(HTTPParseError) in
                try parser.parse(UnsafeRawBufferPointer(rebasing: input[0..<cut]))
            }) {
            case .success(false): break
            case .success(true): return .success(parser.head)
            case .failure(let error): return .failure(error)
            }
        }
        return Result { () throws(HTTPParseError) in try parser.parse(input) ? parser.head : nil }
    }

    /// A normalised path has no empty, `.` or `..` segment and no NUL.
    func checkPath(_ target: UnsafeRawBufferPointer) {
        guard case .path(let length, _) = HTTPTargetPath.normalize(target, into: path) else { return }
        guard length >= 1, path[0] == UInt8(ascii: "/") else { fatalError("path without its leading /") }
        var segmentStart = 1
        for index in 1...length {
            guard index == length || path[index] != UInt8(ascii: "/") else {
                let segment = UnsafeRawBufferPointer(rebasing: path[segmentStart..<index])
                if segment.isEmpty || segment.elementsEqual([46]) || segment.elementsEqual([46, 46]) {
                    fatalError("normalised path keeps an empty or dot segment")
                }
                segmentStart = index + 1
                continue
            }
            if index < length, path[index] == 0 { fatalError("NUL in a normalised path") }
        }
    }

    /// (body bytes, their FNV-1a hash, bytes consumed) or the error, feeding the body
    /// whole or in two parts.
    func decode(_ body: UnsafeRawBufferPointer, cut: Int?) -> Result<[Int], HTTPParseError> {
        var decoder = HTTPChunkedDecoder(limits: limits)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var dataBytes = 0
        var consumed = 0
        for available in [cut ?? body.count, body.count] {
            while !decoder.isComplete {
                let window = UnsafeRawBufferPointer(rebasing: body[consumed..<available])
                let output: HTTPChunkedDecoder.Output
                do {
                    output = try decoder.decode(window)
                } catch {
                    return .failure(error)
                }
                for byte in output.data.bytes(in: window) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                dataBytes += output.data.count
                consumed += output.consumed
                if output.consumed == 0 { break }
            }
        }
        return .success([dataBytes, Int(truncatingIfNeeded: hash), consumed, decoder.isComplete ? 1 : 0])
    }
}

nonisolated(unsafe) let harness = HTTPParserHarness()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    harness.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

@main
enum HTTPParserFuzzer {
    static func main() {
        FuzzDriver.main(program: "mtcp-fuzz-http", fuzzHTTPParser)
    }
}
