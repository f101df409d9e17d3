/// The content codings of a static file's precompressed variants (nginx's
/// `gzip_static`, and the same for Brotli): `file.gz` and `file.br` beside `file`.
public enum HTTPContentCoding: UInt8, Sendable {
    case identity, gzip, brotli

    /// The Content-Encoding value of the coding (RFC 9110 §8.4.1).
    var token: StaticString {
        switch self {
        case .identity: "identity"
        case .gzip: "gzip"
        case .brotli: "br"
        }
    }

    /// The coding that answers an `Accept-Encoding` value (RFC 9110 §12.5.3), among
    /// the variants a file has. The variant with the highest non-zero qvalue wins,
    /// Brotli over gzip on a tie (it is smaller); identity wins only when the client
    /// rates it higher than both. A coding the client does not list is acceptable
    /// only through `*`; `q=0` refuses. Identity is always possible: when nothing
    /// listed is acceptable the file is sent as it is, as nginx does, rather than 406.
    /// Reads the value in place; allocates nothing.
    public static func negotiate(_ acceptEncoding: UnsafeRawBufferPointer, gzip: Bool, brotli: Bool) -> Self {
        var gzipQuality: Int?
        var brotliQuality: Int?
        var identityQuality: Int?
        var anyQuality: Int?
        ASCII.forEachListElement(acceptEncoding) { element in
            var end = 0
            while end < element.count, element[end] != ASCII.semicolon { end += 1 }
            let coding = ASCII.trimmingWhitespace(UnsafeRawBufferPointer(rebasing: element[0..<end]))
            let quality = qvalue(UnsafeRawBufferPointer(rebasing: element[end...]))
            if ASCII.equalsIgnoringCase(coding, "gzip") || ASCII.equalsIgnoringCase(coding, "x-gzip") {
                gzipQuality = quality
            } else if ASCII.equalsIgnoringCase(coding, "br") {
                brotliQuality = quality
            } else if ASCII.equalsIgnoringCase(coding, "identity") {
                identityQuality = quality
            } else if ASCII.equalsIgnoringCase(coding, "*") {
                anyQuality = quality
            }
            return true
        }
        let brotliScore = brotli ? brotliQuality ?? anyQuality ?? 0 : 0
        let gzipScore = gzip ? gzipQuality ?? anyQuality ?? 0 : 0
        let best = max(brotliScore, gzipScore)
        guard best > 0, best >= (identityQuality ?? 0) else { return .identity }
        return brotliScore == best ? .brotli : .gzip
    }

    /// The qvalue of an element's parameters (`;q=0.8`), in thousandths; 1000 when
    /// absent, 0 when malformed (RFC 9110 §12.4.2: a qvalue is `0[.ddd]` or `1[.000]`).
    private static func qvalue(_ parameters: UnsafeRawBufferPointer) -> Int {
        var quality = 1000
        var start = 0
        while start < parameters.count {
            var end = start + 1
            while end < parameters.count, parameters[end] != ASCII.semicolon { end += 1 }
            let parameter = ASCII.trimmingWhitespace(UnsafeRawBufferPointer(rebasing: parameters[(start + 1)..<end]))
            // `q` alone, `q=...` or `q =...`; not another parameter that starts with q.
            if !parameter.isEmpty, ASCII.toLower(parameter[0]) == UInt8(ascii: "q"),
               parameter.count == 1 || parameter[1] == UInt8(ascii: "=") || ASCII.isWhitespace(parameter[1]) {
                var equals = 1
                while equals < parameter.count, ASCII.isWhitespace(parameter[equals]) { equals += 1 }
                guard equals < parameter.count, parameter[equals] == UInt8(ascii: "=") else { return 0 }
                quality = thousandths(ASCII.trimmingWhitespace(UnsafeRawBufferPointer(rebasing: parameter[(equals + 1)...])))
            }
            start = end
        }
        return quality
    }

    private static func thousandths(_ text: UnsafeRawBufferPointer) -> Int {
        guard text.count >= 1, text.count <= 5, text[0] == UInt8(ascii: "0") || text[0] == UInt8(ascii: "1") else {
            return 0
        }
        var value = Int(text[0] &- 48) * 1000
        if text.count > 1 {
            guard text[1] == ASCII.dot else { return 0 }
            var scale = 100
            for byte in text[2...] {
                guard ASCII.isDigit(byte) else { return 0 }
                value += Int(byte &- 48) * scale
                scale /= 10
            }
        }
        return value > 1000 ? 0 : value
    }
}
