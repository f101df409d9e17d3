import Glibc
import MTCPConfig
import MTCPHTTP
import MTCPTLS

/// `mtcp-httpd --check-config` (nginx's `-t`): reads every file the appliance
/// reads at start-up — mtcp.conf, the arp.conf and route.conf it names,
/// httpd.json, the document root (built into the static file cache as start-up
/// builds it), the TLS certificate and key, the upstream pools' CA files and
/// client certificates — and reports
/// every problem found, each naming its file and line, without starting DPDK.
///
/// A file is checked as far as its parser goes (the first problem of a file
/// ends that file's check); the other files are still checked, so one run
/// lists what is wrong in each of them.
public struct ConfigurationCheck {
    public var stackConfigurationPath: String
    public var httpConfigurationPath: String
    /// `--root`, when given: replaces `document_root`.
    public var documentRootOverride: String?

    public init(stackConfigurationPath: String, httpConfigurationPath: String, documentRootOverride: String? = nil) {
        self.stackConfigurationPath = stackConfigurationPath
        self.httpConfigurationPath = httpConfigurationPath
        self.documentRootOverride = documentRootOverride
    }

    /// What a check read, every file parsed once: a reload publishes exactly
    /// this, never a second reading of files that may have changed since.
    public struct Files: Sendable {
        public var stack: StackFiles
        public var http: HTTPServerConfiguration
    }

    /// mtcp.conf and the tables it names.
    public struct StackFiles: Sendable, Equatable {
        public var configuration: StackConfiguration
        public var neighbours: [StaticARPEntry]
        public var routes: [StaticRoute]
    }

    /// One line per problem, `file:line: what`; empty when every file is usable.
    public func problems() -> [String] {
        read().problems
    }

    /// Reads and checks every file once: the parsed files when all are usable,
    /// and the problems (one line each) otherwise.
    public func read() -> (files: Files?, problems: [String]) {
        let (stack, stackProblems) = readStack()
        let (http, httpProblems) = readHTTP()
        guard let stack, let http else { return (nil, stackProblems + httpProblems) }
        return (Files(stack: stack, http: http), [])
    }

    private func readStack() -> (StackFiles?, [String]) {
        let configuration: StackConfiguration
        do {
            configuration = try StackConfiguration.load(path: stackConfigurationPath)
        } catch {
            // The tables' paths are keys of mtcp.conf: unknown until it parses.
            return (nil, [error.description])
        }
        var problems: [String] = []
        var neighbours: [StaticARPEntry] = []
        var routes: [StaticRoute] = []
        do { neighbours = try configuration.loadStaticARPTable().entries } catch { problems.append(error.description) }
        do { routes = try configuration.loadStaticRouteTable().routes } catch { problems.append(error.description) }
        guard problems.isEmpty else { return (nil, problems) }
        return (StackFiles(configuration: configuration, neighbours: neighbours, routes: routes), [])
    }

    /// httpd.json with `--root` applied, once its document root, error pages and
    /// TLS files were found usable.
    private func readHTTP() -> (HTTPServerConfiguration?, [String]) {
        var configuration: HTTPServerConfiguration
        do {
            configuration = try HTTPServerConfiguration.load(path: httpConfigurationPath)
        } catch {
            return (nil, [error.description])
        }
        var problems: [String] = []
        if let problem = documentRootProblem(configuration) ?? staticFileCacheProblem(configuration) {
            problems.append(problem)
        }
        if let tls = configuration.tls {
            do throws(HTTPConfigurationError) {
                try Self.checkTLS(HTTPSOptions(tls), configurationFile: httpConfigurationPath)
            } catch {
                problems.append(error.description)
            }
        }
        for (index, pool) in configuration.upstreams.enumerated() {
            guard let tls = pool.tls else { continue }
            do throws(HTTPConfigurationError) {
                try Self.checkUpstreamTLS(UpstreamTLSOptions(tls), pool: index, configurationFile: httpConfigurationPath)
            } catch {
                problems.append(error.description)
            }
        }
        guard problems.isEmpty else { return (nil, problems) }
        if let documentRootOverride { configuration.documentRoot = documentRootOverride }
        return (configuration, [])
    }

    /// The document root must be a directory the server can list.
    private func documentRootProblem(_ configuration: HTTPServerConfiguration) -> String? {
        let root = documentRootOverride ?? configuration.documentRoot
        guard let directory = opendir(root) else {
            let reason = String(cString: strerror(errno))
            guard documentRootOverride == nil else { return "--root \(root): \(reason)" }
            return HTTPConfigurationError.unusable(file: httpConfigurationPath, keyPath: "document_root",
                                                   message: "cannot open \(root): \(reason)").description
        }
        closedir(directory)
        return nil
    }

    /// Builds the static file cache as start-up does (the same walk, filters and
    /// limits), so whatever start-up would reject is reported: an error page that
    /// is a dot file, leaves the root, or is too large for memory, at its key's line.
    private func staticFileCacheProblem(_ configuration: HTTPServerConfiguration) -> String? {
        var cacheConfiguration = configuration.staticFileCache
        if let documentRootOverride { cacheConfiguration.documentRoot = documentRootOverride }
        do {
            _ = try StaticFileCache(configuration: cacheConfiguration, now: Int64(time(nil)))
            return nil
        } catch {
            let keyPath = error.errorPageStatus.map { "error_pages.\($0)" } ?? "document_root"
            return HTTPConfigurationError.unusable(file: httpConfigurationPath, keyPath: keyPath,
                                                   message: error.description).description
        }
    }

    /// Makes a TLS context from `https` and frees it, so that a missing,
    /// unreadable or mismatched certificate or key is reported as a problem of
    /// the `tls` key at fault, with its line in `configurationFile`.
    public static func checkTLS(_ https: HTTPSOptions, configurationFile: String) throws(HTTPConfigurationError) {
        do {
            TLSContextFactory.free(try TLSContextFactory.server(https.settings))
        } catch {
            let hint = error.setting == "certificate" || error.setting == "private_key"
                ? " (`make tls-cert` makes a self-signed certificate)" : ""
            throw .unusable(file: configurationFile, keyPath: "tls" + (error.setting.map { "." + $0 } ?? ""),
                            message: error.message + hint)
        }
    }

    /// Makes pool `pool`'s client TLS context and frees it, so that a missing
    /// CA file, or a client certificate or key that cannot be used, is reported
    /// at its key (`upstreams[0].tls.ca_file`) with its line.
    static func checkUpstreamTLS(_ tls: UpstreamTLSOptions, pool: Int,
                                 configurationFile: String) throws(HTTPConfigurationError) {
        do {
            TLSContextFactory.free(try TLSContextFactory.client(tls.settings))
        } catch {
            let failure = UpstreamTLSSetupError(pool: pool, error: error)
            throw .unusable(file: configurationFile, keyPath: failure.keyPath, message: error.message)
        }
    }
}
