import Glibc
import MTCP
import MTCPHTTP

/// The health path, `/healthz`: answered by the server itself, before proxy
/// routes and files, so that a load balancer or an orchestrator learns about
/// this instance and not about what it serves. 200 while it serves; 503 once it
/// drains (a stop signal with `drain_s`), so the balancer withdraws it while
/// nothing is refused yet. Answers are counted apart (`http_health_ok`,
/// `http_health_draining`), not in the response classes: a drain's 503 is no
/// failure of the server.
extension HTTPServer {
    /// The path answered, whatever the document root or the routes hold there.
    public static var healthPath: StaticString { "/healthz" }

    /// The stop has begun (`EngineApplication.startDraining`): `/healthz`
    /// answers 503 and every response closes its connection (`Connection:
    /// close`), so kept-alive clients reconnect, by then to another instance;
    /// connections are still accepted and served until `stopAccepting`.
    /// Kept-alive connections waiting for their next request are closed now:
    /// once the balancer has moved the route, that request would reach another
    /// instance on a connection it never had, and fail. Closing an idle
    /// connection is what RFC 9112 §9.3.1 has clients retry.
    public mutating func startDraining(_ context: inout SocketContext<Device>) {
        isDraining = true
        for index in connections.indices where connections[index].isBetweenKeptAliveRequests {
            closeConnection(index, &context, reset: false)
        }
    }

    /// Whether the normalised `path` is the health path.
    func isHealthPath(_ path: UnsafeRawBufferPointer) -> Bool {
        let health = Self.healthPath
        return path.count == health.utf8CodeUnitCount
            && memcmp(path.baseAddress!, health.utf8Start, path.count) == 0
    }

    /// Queues the health answer (its head alone for HEAD); OPTIONS gets 204 and
    /// other methods 405, as for any path served (`Allow: GET, HEAD, OPTIONS`).
    mutating func answerHealthCheck(_ index: Int, method: HTTPMethod, _ context: inout SocketContext<Device>) {
        switch method {
        case .get, .head: break
        case .options: return respondWithError(index, .noContent, &context)
        default: return respondWithError(index, .methodNotAllowed, &context)
        }
        respondWithError(index, isDraining ? .serviceUnavailable : .ok, &context, headOnly: method == .head)
        connections[index].isHealthAnswer = true
    }
}
