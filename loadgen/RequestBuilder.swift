/// Builds the bytes of each request once, before the run: during the run a
/// request is a copy of prepared bytes into the send buffer, nothing else.
struct RequestBuilder: Equatable, Sendable {
    /// HTTP/1.0 instead of HTTP/1.1.
    var http10 = false
    /// Requests per connection: 1 asks the server to close after the response.
    var requestsPerConnection = 1
    /// Extra header lines, `Name: value`, in order.
    var extraHeaders: [String] = []

    /// Checks an extra header line: `token ":" value` without CR or LF (which
    /// would let a header smuggle a second request into the stream).
    static func validate(header: String) throws(LoadgenError) {
        guard let colon = header.firstIndex(of: ":"), colon != header.startIndex else {
            throw LoadgenError("-H \(header.debugDescription): expected 'Name: value'")
        }
        let name = header[..<colon].utf8
        let separators = Set(#"()<>@,;:\"/[]?={} "#.utf8)
        guard name.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !separators.contains($0) }),
              !header.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
            throw LoadgenError("-H \(header.debugDescription): invalid header name or control characters")
        }
    }

    /// The request for `target`: GET, Host, our User-Agent, the extra headers
    /// (which replace ours of the same name), and the connection handling that
    /// `requestsPerConnection` asks for.
    func request(for target: HTTPTarget) -> [UInt8] {
        var lines = ["GET \(target.path) HTTP/1.\(http10 ? 0 : 1)"]
        let extraNames = Set(extraHeaders.map { $0.prefix { $0 != ":" }.lowercased() })
        for (name, value) in [("Host", target.host), ("User-Agent", "mtcp-loadgen"), ("Accept", "*/*")]
        where !extraNames.contains(name.lowercased()) {
            lines.append("\(name): \(value)")
        }
        lines += extraHeaders
        if !extraNames.contains("connection") {
            // HTTP/1.1 keeps connections open unless told; HTTP/1.0 closes unless told.
            if requestsPerConnection == 1 && !http10 { lines.append("Connection: close") }
            if requestsPerConnection > 1 && http10 { lines.append("Connection: keep-alive") }
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }
}
