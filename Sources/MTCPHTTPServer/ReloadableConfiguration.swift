import Glibc
import MTCPConfig
import MTCPHTTP
import Synchronization

/// The appliance's configuration across reloads (SIGHUP): the management
/// thread reads and checks the files once (`reload`), off the data path, and
/// publishes the options they describe under a new generation; each core takes
/// them (`current`) between two iterations of its loop, for its new
/// connections, while open ones finish under what they started with.
///
/// A reload is refused, and nothing changes, when a file does not parse or
/// cannot be used (the problems of `--check-config`, each with its file and
/// line) or when it changes what only a restart can: any key of mtcp.conf and
/// its tables (addresses, cores, pools, ports), and in httpd.json the listening
/// ports, whether HTTPS is on, the server name (built into per-core memory that
/// open responses point at), the access log and its format (opened at start),
/// and the two limits that size each connection's buffers.
public final class ReloadableConfiguration: Sendable {
    /// What the command line set over httpd.json; it keeps precedence on reload.
    public struct Overrides: Sendable {
        public var documentRoot: String?
        public var listenPort: UInt16?
        public var accessLogPath: String?
        public var accessLogFormat: HTTPAccessLog.Format?

        public init(documentRoot: String? = nil, listenPort: UInt16? = nil, accessLogPath: String? = nil,
                    accessLogFormat: HTTPAccessLog.Format? = nil) {
            self.documentRoot = documentRoot
            self.listenPort = listenPort
            self.accessLogPath = accessLogPath
            self.accessLogFormat = accessLogFormat
        }
    }

    /// The options in force and their generation (0 at start, +1 per reload done).
    public struct Published: Sendable {
        public let generation: Int
        public let options: HTTPServerOptions
    }

    /// What the running stack was started with: compared, never reloaded.
    private struct Stack: Sendable {
        var configuration: StackConfiguration
        var neighbours: [StaticARPEntry]
        var routes: [StaticRoute]

        init(path: String) throws(ConfigurationError) {
            configuration = try StackConfiguration.load(path: path)
            neighbours = try configuration.loadStaticARPTable().entries
            routes = try configuration.loadStaticRouteTable().routes
        }
    }

    private let stackConfigurationPath: String
    private let httpConfigurationPath: String
    private let overrides: Overrides
    private let stack: Stack
    private let state: Mutex<(configuration: HTTPServerConfiguration, published: Published)>

    /// Reads every file as start-up does; throws what start-up would report.
    public init(stackConfigurationPath: String, httpConfigurationPath: String, overrides: Overrides) throws {
        self.stackConfigurationPath = stackConfigurationPath
        self.httpConfigurationPath = httpConfigurationPath
        self.overrides = overrides
        stack = try Stack(path: stackConfigurationPath)
        let configuration = try Self.load(httpConfigurationPath, overrides)
        let options = Self.options(configuration, overrides, ticketKeysOf: nil)
        if let https = options.https { try ConfigurationCheck.checkTLS(https, configurationFile: httpConfigurationPath) }
        state = Mutex((configuration, Published(generation: 0, options: options)))
    }

    /// The options each core should be running.
    public var current: Published { state.withLock { $0.published } }

    /// Reads the files again. When they are usable and change nothing that needs
    /// a restart, publishes their options and returns nil; otherwise returns why
    /// the reload is refused (one line per problem) and keeps the old options.
    public func reload() -> String? {
        let problems = ConfigurationCheck(stackConfigurationPath: stackConfigurationPath,
                                          httpConfigurationPath: httpConfigurationPath,
                                          documentRootOverride: overrides.documentRoot).problems()
        guard problems.isEmpty else { return problems.joined(separator: "\n") }
        let fresh: HTTPServerConfiguration
        let freshStack: Stack
        do {
            fresh = try Self.load(httpConfigurationPath, overrides)
            freshStack = try Stack(path: stackConfigurationPath)
        } catch {
            return "\(error)"  // a file changed again since the check
        }
        return state.withLock { state in
            let fixed = stackKeysChanged(freshStack) + Self.httpKeysChanged(from: state.configuration, to: fresh)
            guard fixed.isEmpty else {
                return "cannot change while running (restart to change them): " + fixed.joined(separator: ", ")
            }
            let options = Self.options(fresh, overrides, ticketKeysOf: state.published.options)
            state = (fresh, Published(generation: state.published.generation + 1, options: options))
            return nil
        }
    }

    private func stackKeysChanged(_ fresh: Stack) -> [String] {
        let file = stackConfigurationPath
        var keys = fresh.configuration.keysDiffering(from: stack.configuration).map { "\(file): \($0)" }
        if fresh.neighbours != stack.neighbours { keys.append(fresh.configuration.arpTable.path) }
        if fresh.routes != stack.routes { keys.append(fresh.configuration.routeTable.path) }
        return keys
    }

    /// The httpd.json keys that differ and only a restart can change.
    private static func httpKeysChanged(from old: HTTPServerConfiguration, to new: HTTPServerConfiguration) -> [String] {
        var keys: [String] = []
        if old.listenPort != new.listenPort { keys.append("listen_port") }
        if (old.tls == nil) != (new.tls == nil) { keys.append("tls") }
        if let oldTLS = old.tls, let newTLS = new.tls, oldTLS.listenPort != newTLS.listenPort {
            keys.append("tls.listen_port")
        }
        if old.serverName != new.serverName { keys.append("server_name") }
        if old.accessLog != new.accessLog { keys.append("access_log") }
        if old.accessLogFormat != new.accessLogFormat { keys.append("access_log_format") }
        if old.limits.maxRequestLineLength != new.limits.maxRequestLineLength { keys.append("limits.max_request_line") }
        if old.limits.maxHeaderBytes != new.limits.maxHeaderBytes { keys.append("limits.max_header_bytes") }
        return keys
    }

    private static func load(_ path: String, _ overrides: Overrides) throws(HTTPConfigurationError)
        -> HTTPServerConfiguration {
        var configuration = try HTTPServerConfiguration.load(path: path)
        if let root = overrides.documentRoot { configuration.documentRoot = root }
        if let port = overrides.listenPort { configuration.listenPort = port }
        if let format = overrides.accessLogFormat { configuration.accessLogFormat = format }
        return configuration
    }

    /// The options of `configuration`; the session-ticket keys of `previous`
    /// are kept, so tickets issued before the reload still resume.
    private static func options(_ configuration: HTTPServerConfiguration, _ overrides: Overrides,
                                ticketKeysOf previous: HTTPServerOptions?) -> HTTPServerOptions {
        var options = HTTPServerOptions(configuration)
        if let path = overrides.accessLogPath { options.accessLogPath = path }
        if let keys = previous?.https?.settings.ticketKeys { options.https?.settings.ticketKeys = keys }
        return options
    }
}
