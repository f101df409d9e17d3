import MTCP
import MTCPHTTP
import MTCPTLS

/// A client connection's bytes on their way in and out: straight through the
/// socket for HTTP, through the connection's TLS stream for HTTPS. The proxy's
/// connections to an HTTPS pool's servers pass through here the same way
/// (`HTTPServer+UpstreamTLS`).
extension HTTPServer {
    /// Reads what the client sent (decrypted, for HTTPS; the handshake runs in
    /// here). A TLS failure is counted and logged and the connection closed
    /// with its alert sent; the caller then sees a reset, and its own close of
    /// the connection finds it closed already.
    mutating func receive(_ index: Int, into buffer: UnsafeMutableRawBufferPointer,
                          _ context: inout SocketContext<Device>) throws(SocketError) -> Int {
        let socket = connections[index].socket
        guard let stream = connections[index].tls else { return try context.read(socket, into: buffer) }
        defer { noteHandshake(index) }
        do {
            return try stream.read(into: buffer, from: socket, &context, scratch: tlsScratch)
        } catch {
            throw streamFailed(index, error, &context)
        }
    }

    /// Writes `pieces` (encrypted, for HTTPS) as far as the send buffer takes
    /// them. Returns the bytes taken.
    mutating func send(_ index: Int, _ pieces: UnsafeBufferPointer<UnsafeRawBufferPointer>,
                       _ context: inout SocketContext<Device>) throws(SocketError) -> Int {
        let socket = connections[index].socket
        guard let stream = connections[index].tls else { return try context.writev(socket, pieces) }
        do {
            return try stream.write(pieces, to: socket, &context, scratch: tlsScratch)
        } catch {
            throw streamFailed(index, error, &context)
        }
    }

    /// Writes one run of bytes, as `send` does.
    mutating func send(_ index: Int, _ bytes: UnsafeRawBufferPointer,
                       _ context: inout SocketContext<Device>) throws(SocketError) -> Int {
        let socket = connections[index].socket
        guard let stream = connections[index].tls else { return try context.write(socket, bytes) }
        do {
            return try stream.write(bytes, to: socket, &context, scratch: tlsScratch)
        } catch {
            throw streamFailed(index, error, &context)
        }
    }

    /// The socket error a failed stream call shows its caller.
    private mutating func streamFailed(_ index: Int, _ error: TLSStreamError,
                                       _ context: inout SocketContext<Device>) -> SocketError {
        switch error {
        case .wouldBlock:
            return .wouldBlock
        case .socket(let error):
            return error
        case .failed(let failure) where connections[index].isUpstream:
            upstreamTLSFailed(index, failure)  // the caller fails the exchange, as for a reset
            return .connectionReset
        case .failed(let failure):
            tlsFailed(index, failure, &context)
            return .connectionReset
        }
    }

    /// Bytes `send` takes in full right now. Over TLS, ciphertext still
    /// waiting in the stream goes before any new record: counting its room
    /// too would make a write that was promised to fit come out short.
    /// Inlined, as `SocketContext.writableBytes` is: called, it copied the
    /// borrowed context (2.4 KB) for every write.
    @inline(__always)
    func sendRoom(_ index: Int, _ context: borrowing SocketContext<Device>) -> Int {
        let room = context.writableBytes(connections[index].socket)
        guard let stream = connections[index].tls else { return room }
        return TLSStream.plaintext(fitting: room - stream.pendingOutput)
    }

    /// Sends the ciphertext still waiting for room (handshake messages, the
    /// tail of a response). Returns whether none waits; a failed socket closes
    /// the connection.
    mutating func flushTLS(_ index: Int, _ context: inout SocketContext<Device>) -> Bool {
        guard let stream = connections[index].tls, stream.hasPendingOutput else { return true }
        do {
            return try stream.flush(connections[index].socket, &context, scratch: tlsScratch)
        } catch {
            closeConnection(index, &context, reset: true)
            return false
        }
    }

    /// Ends our direction after the last response: close_notify first for
    /// HTTPS (RFC 8446 §6.1), then the TCP half-close. Returns false while the
    /// close_notify waits for room.
    mutating func shutdownOutput(_ index: Int,
                                 _ context: inout SocketContext<Device>) throws(SocketError) -> Bool {
        let socket = connections[index].socket
        if let stream = connections[index].tls, try !stream.close(socket, &context, scratch: tlsScratch) {
            return false
        }
        try context.shutdown(socket, .write)
        return true
    }

    /// Counts a handshake the first time the stream reports it done.
    private mutating func noteHandshake(_ index: Int) {
        guard !connections[index].tlsEstablished, let stream = connections[index].tls, stream.isEstablished else {
            return
        }
        connections[index].tlsEstablished = true
        statistics.tlsHandshakes &+= 1
        if stream.isResumed { statistics.tlsResumed &+= 1 }
    }

    /// A TLS connection that cannot go on: counted, logged (a line a second at
    /// most), and closed after the alert OpenSSL queued for the peer.
    private mutating func tlsFailed(_ index: Int, _ failure: TLSFailure,
                                    _ context: inout SocketContext<Device>) {
        // A renegotiation the client asks for after the first handshake (refused)
        // is a failure of an established connection, though OpenSSL is in a handshake.
        var failure = failure
        failure.duringHandshake = !connections[index].tlsEstablished
        if failure.duringHandshake {
            statistics.tlsHandshakeFailures &+= 1
        } else {
            statistics.tlsProtocolErrors &+= 1
        }
        eventLog.tlsFailed(failure, connection: index, client: connections[index].client, second: clock.second)
        let socket = connections[index].socket
        if failure.isPlainHTTP {
            // As nginx does: the client (a browser told http://host:443/) learns why.
            if let response = errors.response(for: .badRequest, keepAlive: false) {
                _ = try? context.write(socket, response)
            }
            statistics.count(response: HTTPStatus.badRequest.rawValue)
        } else if let stream = connections[index].tls {
            _ = try? stream.flush(socket, &context, scratch: tlsScratch)
        }
        closeConnection(index, &context, reset: false)
    }
}
