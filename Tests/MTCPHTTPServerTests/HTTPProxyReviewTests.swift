import Testing
@testable import MTCP
import MTCPHTTP
@testable import MTCPHTTPServer

/// Findings of the proxy's review (issue 24), each pinned by a test.
@Suite struct HTTPProxyReviewTests {
    let root = DocumentRoot()

    func network(configure: (inout HTTPServerOptions) -> Void = { _ in }) -> HTTPTestNetwork {
        var options = HTTPTestNetwork.proxied(HTTPTestNetwork.options(root: root.path))
        configure(&options)
        return HTTPTestNetwork(options: options)
    }

    /// A large response on a kept-alive upstream connection leaves it parked
    /// for the next request, which reuses it.
    @Test func upstreamConnectionIsParkedAfterALargeResponse() throws {
        var network = network()
        let upstream = network.startUpstream()
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 200_000)
        upstream.response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let first = network.exchange("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(first.responses().first?.body.count == body.count)
        network.advance(.milliseconds(20))
        let parked = network.http.connections.filter { $0.isOpen && $0.isUpstream && $0.isIdle }.count
        #expect(parked == 1)
        let second = network.exchange("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(second.responses().first?.body.count == body.count)
        #expect(upstream.connections.count == 1)
    }
}
