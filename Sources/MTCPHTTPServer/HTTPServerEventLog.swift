import Logging
import MTCP
import MTCPEventLog
import MTCPHTTP
import MTCPTLS

/// One core's HTTP server events on the event log (swift-log), each line
/// naming the core (the logger's metadata) and the connection (its slot)
/// where there is one. Events a peer can repeat at will are rate-limited to a
/// line a second per kind; debug ones are tested against the level before
/// anything else, so a filtered event costs one atomic load. Never called per
/// packet: on failures, timeouts, health changes and SIGUSR1 only.
struct HTTPServerEventLog {
    var logger: Logger
    private var tlsFailures = EventRateLimit()
    private var malformedRequests = EventRateLimit()
    private var headerTimeouts = EventRateLimit()
    private var upstreamTLSFailures = EventRateLimit()

    init(logger: Logger) { self.logger = logger }

    /// A TLS connection failed (warn).
    mutating func tlsFailed(_ failure: TLSFailure, connection: Int, client: IPAddress, second: Int64) {
        guard let heldBack = tlsFailures.admit(second: second) else { return }
        let stage = failure.duringHandshake ? "handshake failed" : "connection failed"
        let more = EventRateLimit.suffix(heldBack, what: "failures")
        logger.warning("TLS \(stage) from \(client): \(failure.reason)\(more)", metadata: ["connection": "\(connection)"])
    }

    /// A TLS connection to an upstream server failed (warn): its certificate
    /// refused (`verification` says why), or the handshake or a record failed.
    mutating func upstreamTLSFailed(_ failure: TLSFailure, verification: String?, pool: String, address: IPAddress,
                                    port: UInt16, connection: Int, second: Int64) {
        guard let heldBack = upstreamTLSFailures.admit(second: second) else { return }
        let server = address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
        let stage = failure.duringHandshake ? "handshake failed" : "connection failed"
        let reason = verification.map { "certificate refused: \($0)" } ?? failure.reason
        let more = EventRateLimit.suffix(heldBack, what: "failures")
        logger.warning("TLS \(stage) to upstream \(server) of pool \(pool): \(reason)\(more)",
                       metadata: ["connection": "\(connection)"])
    }

    /// A request the parser refused (debug: the client's fault, answered with its status).
    mutating func malformedRequest(_ error: HTTPParseError, connection: Int, client: IPAddress, second: Int64) {
        guard logger.logLevel <= .debug, let heldBack = malformedRequests.admit(second: second) else { return }
        let more = EventRateLimit.suffix(heldBack, what: "refused requests")
        logger.debug("request from \(client) refused with \(error.status.rawValue): \(error)\(more)",
                     metadata: ["connection": "\(connection)"])
    }

    /// A request head that did not arrive in time (debug: answered 408).
    mutating func headerTimedOut(connection: Int, client: IPAddress, second: Int64) {
        guard logger.logLevel <= .debug, let heldBack = headerTimeouts.admit(second: second) else { return }
        let more = EventRateLimit.suffix(heldBack, what: "timeouts")
        logger.debug("request head from \(client) timed out (408)\(more)", metadata: ["connection": "\(connection)"])
    }

    /// An upstream server left the pool's choice after its health checks failed (warn), or came back (info).
    func upstreamHealthChanged(pool: String, address: IPAddress, port: UInt16, healthy: Bool) {
        let server = address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
        if healthy {
            logger.info("upstream \(server) of pool \(pool) passes its health checks again")
        } else {
            logger.warning("upstream \(server) of pool \(pool) fails its health checks: taken out of the pool")
        }
    }

    /// The access log could not be reopened on SIGUSR1 (error).
    func accessLogNotReopened(_ problem: String) {
        logger.error("\(problem)")
    }
}

extension Logger.Level {
    /// The swift-log level of httpd.json's `log_level`.
    public init(_ level: HTTPServerConfiguration.LogLevel) {
        switch level {
        case .error: self = .error
        case .warn: self = .warning
        case .info: self = .info
        case .debug: self = .debug
        }
    }
}
