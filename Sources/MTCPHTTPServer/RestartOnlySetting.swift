import MTCPHTTP

/// A setting of httpd.json that a running server cannot change: a reload keeps
/// the value in force and names the key as waiting for a restart, while the
/// rest of the file is applied (nginx's way: reload what can be reloaded).
///
/// These are made once per core at start-up: the listening sockets (ports,
/// whether HTTPS listens at all), the server name (built into per-core memory
/// that open responses point at), the access log and its format (opened at
/// start), and the two limits that size each connection's buffers. Every other
/// key is reloadable; `ReloadClassificationTests` fails for a key added to the
/// file's decoder without being classified here or as reloadable there.
struct RestartOnlySetting: Sendable {
    /// The key's path in httpd.json.
    let key: String
    let differs: @Sendable (_ running: HTTPServerConfiguration, _ fresh: HTTPServerConfiguration) -> Bool
    /// Puts the running value into `fresh`.
    let keep: @Sendable (_ fresh: inout HTTPServerConfiguration, _ running: HTTPServerConfiguration) -> Void

    private static func value<Value: Equatable>(
        _ key: String, _ keyPath: WritableKeyPath<HTTPServerConfiguration, Value> & Sendable
    ) -> RestartOnlySetting {
        RestartOnlySetting(key: key, differs: { $0[keyPath: keyPath] != $1[keyPath: keyPath] },
                           keep: { $0[keyPath: keyPath] = $1[keyPath: keyPath] })
    }

    static let all: [RestartOnlySetting] = [
        value("listen_port", \.listenPort),
        // HTTPS turned on or off: the whole `tls` object in force is kept.
        RestartOnlySetting(key: "tls", differs: { ($0.tls == nil) != ($1.tls == nil) },
                           keep: { fresh, running in if (fresh.tls == nil) != (running.tls == nil) { fresh.tls = running.tls } }),
        RestartOnlySetting(key: "tls.listen_port",
                           differs: { $0.tls != nil && $1.tls != nil && $0.tls?.listenPort != $1.tls?.listenPort },
                           keep: { fresh, running in
                               if let port = running.tls?.listenPort, fresh.tls != nil { fresh.tls?.listenPort = port }
                           }),
        value("server_name", \.serverName),
        value("access_log", \.accessLog),
        value("access_log_format", \.accessLogFormat),
        value("limits.max_request_line", \.limits.maxRequestLineLength),
        value("limits.max_header_bytes", \.limits.maxHeaderBytes),
    ]

    /// `fresh` with every restart-only value of `running`, and the keys whose
    /// value on disk therefore waits for a restart.
    static func keepingRunningValues(_ fresh: HTTPServerConfiguration, running: HTTPServerConfiguration)
        -> (configuration: HTTPServerConfiguration, waiting: [String]) {
        var kept = fresh
        let waiting = all.filter { $0.differs(running, fresh) }.map(\.key)
        for setting in all { setting.keep(&kept, running) }
        return (kept, waiting)
    }
}
