import MTCP

/// One URL the load generator requests: where to connect and what to ask for.
/// Only address literals, IPv4 or IPv6 in brackets (RFC 3986 §3.2.2): the stack
/// has no resolver, and a benchmark should not measure one.
struct HTTPTarget: Equatable, Sendable {
    var address: IPAddress
    var port: UInt16
    /// The request target (origin-form, RFC 9112 §3.2.1), starting with "/".
    var path: String
    /// The Host field value: the authority as written in the URL.
    var host: String
    /// An https:// URL: the connection speaks TLS.
    var isTLS: Bool

    /// Parses `http://A.B.C.D[:PORT][/PATH]`, `http://[IPV6][:PORT][/PATH]` or
    /// `https://...` (port 443 by default).
    init(url: String) throws(LoadgenError) {
        isTLS = url.hasPrefix("https://")
        let scheme = isTLS ? "https://" : "http://"
        guard url.hasPrefix(scheme) else {
            throw LoadgenError("\(url): expected http(s)://A.B.C.D[:PORT]/PATH or echo://A.B.C.D:PORT")
        }
        let rest = url.dropFirst(scheme.count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        host = String(authority)
        let (literal, portText) = try Self.split(authority, url: url)
        self.address = literal
        if let portText {
            guard let port = UInt16(portText), port > 0 else { throw LoadgenError("\(url): invalid port") }
            self.port = port
        } else {
            port = isTLS ? 443 : 80
        }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), !path.contains("#") else {
            throw LoadgenError("\(url): the path must be printable ASCII without spaces or a fragment")
        }
    }

    /// The address and the port text of an authority: "A.B.C.D[:PORT]" or "[IPV6][:PORT]".
    private static func split(_ authority: Substring, url: String) throws(LoadgenError) -> (IPAddress, Substring?) {
        let refusal = LoadgenError("\(url): the host must be an IPv4 address or an IPv6 address in brackets "
                                   + "(the stack has no resolver)")
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]"),
                  let address = IPv6Address(authority[authority.index(after: authority.startIndex)..<close]) else {
                throw refusal
            }
            let rest = authority[authority.index(after: close)...]
            guard rest.isEmpty || rest.first == ":" else { throw refusal }
            return (IPAddress(address), rest.isEmpty ? nil : rest.dropFirst())
        }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPv4Address(parts[0]) else { throw refusal }
        return (IPAddress(address), parts.count == 2 ? parts[1] : nil)
    }

    /// The same server with another path (for URL lists and mixes given as paths).
    func with(path: String) -> HTTPTarget {
        var target = self
        target.path = path
        return target
    }

    var url: String { (isTLS ? "https://" : "http://") + host + path }
}

/// A command-line or workload mistake, reported as one line.
struct LoadgenError: Error, CustomStringConvertible, Equatable {
    var description: String
    init(_ description: String) { self.description = description }
}
