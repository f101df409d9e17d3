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
/// line). A change only a restart can make — any key of mtcp.conf and its
/// tables (addresses, cores, pools, ports), and in httpd.json the settings of
/// `RestartOnlySetting` — does not hold back the rest: the reload applies
/// what it can, keeps those values as they run, and names them.
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

    /// What a reload did.
    public struct Outcome: Sendable, Equatable {
        /// Why nothing was published (one line per problem); nil when it was.
        public var refusal: String?
        /// Keys changed on disk that only a restart applies, `file: key` for
        /// mtcp.conf and its tables, the key alone for httpd.json.
        public var awaitingRestart: [String] = []
    }

    private let stackConfigurationPath: String
    private let httpConfigurationPath: String
    private let overrides: Overrides
    /// What the running stack was started with: compared, never reloaded.
    private let stack: ConfigurationCheck.StackFiles
    private let state: Mutex<(configuration: HTTPServerConfiguration, published: Published)>

    /// Reads every file as start-up does; throws what start-up would report.
    public init(stackConfigurationPath: String, httpConfigurationPath: String, overrides: Overrides) throws {
        self.stackConfigurationPath = stackConfigurationPath
        self.httpConfigurationPath = httpConfigurationPath
        self.overrides = overrides
        let configuration = try StackConfiguration.load(path: stackConfigurationPath)
        stack = .init(configuration: configuration, neighbours: try configuration.loadStaticARPTable().entries,
                      routes: try configuration.loadStaticRouteTable().routes)
        var http = try HTTPServerConfiguration.load(path: httpConfigurationPath)
        if let root = overrides.documentRoot { http.documentRoot = root }
        Self.applyOverrides(&http, overrides)
        let options = Self.options(http, overrides, ticketKeysOf: nil)
        if let https = options.https { try ConfigurationCheck.checkTLS(https, configurationFile: httpConfigurationPath) }
        state = Mutex((http, Published(generation: 0, options: options)))
    }

    /// The options each core should be running.
    public var current: Published { state.withLock { $0.published } }

    /// Reads and checks the files once. When they are usable, publishes what
    /// was checked (restart-only values kept as they run, and named);
    /// otherwise keeps the old options and says why. `beforePublishing` runs
    /// between the check and the publication (tests rewrite files there).
    public func reload(beforePublishing: () -> Void = {}) -> Outcome {
        let (files, problems) = ConfigurationCheck(stackConfigurationPath: stackConfigurationPath,
                                                   httpConfigurationPath: httpConfigurationPath,
                                                   documentRootOverride: overrides.documentRoot).read()
        guard let files else { return Outcome(refusal: problems.joined(separator: "\n")) }
        beforePublishing()
        var fresh = files.http
        Self.applyOverrides(&fresh, overrides)
        return state.withLock { state in
            let (kept, waiting) = RestartOnlySetting.keepingRunningValues(fresh, running: state.configuration)
            let options = Self.options(kept, overrides, ticketKeysOf: state.published.options)
            state = (kept, Published(generation: state.published.generation + 1, options: options))
            return Outcome(refusal: nil, awaitingRestart: stackKeysChanged(files.stack) + waiting)
        }
    }

    private func stackKeysChanged(_ fresh: ConfigurationCheck.StackFiles) -> [String] {
        let file = stackConfigurationPath
        var keys = fresh.configuration.keysDiffering(from: stack.configuration).map { "\(file): \($0)" }
        if fresh.neighbours != stack.neighbours { keys.append(fresh.configuration.arpTable.path) }
        if fresh.routes != stack.routes { keys.append(fresh.configuration.routeTable.path) }
        return keys
    }

    /// The command line's settings over the file's (`--root` is applied by the check).
    private static func applyOverrides(_ configuration: inout HTTPServerConfiguration, _ overrides: Overrides) {
        if let port = overrides.listenPort { configuration.listenPort = port }
        if let format = overrides.accessLogFormat { configuration.accessLogFormat = format }
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
