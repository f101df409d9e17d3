import COpenSSL
import Glibc
import MTCP

/// One TLS connection over a socket of the user-level stack. OpenSSL never
/// sees the socket: ciphertext passes through two memory BIOs, filled from the
/// socket's received bytes and drained into its send buffer by these calls, on
/// the engine's own thread. Every call leaves nothing behind that needs the
/// socket's attention except ciphertext in `incoming`/`outgoing`, which the
/// next call (or `flush` on an output event) moves on.
public struct TLSStream {
    let ssl: OpaquePointer
    /// Ciphertext received from the peer, for OpenSSL to read.
    let incoming: OpaquePointer
    /// Ciphertext OpenSSL wrote, for the socket.
    let outgoing: OpaquePointer

    /// Largest plaintext of one record (RFC 8446 §5.1).
    public static let recordPayload = 16_384
    /// Most bytes a record adds to its plaintext with the AEAD suites allowed:
    /// 5 of header, 8 of explicit nonce and 16 of tag (TLS 1.2 AES-GCM; TLS 1.3
    /// adds 22). A CBC suite named in `ciphers` adds more (IV, MAC, padding):
    /// then a write takes a little more than the send buffer holds, and the rest
    /// of its ciphertext waits in `outgoing` for the next flush; nothing is lost.
    static let recordOverhead = 29

    /// A stream that waits for a client's hello; nil when OpenSSL cannot allocate one.
    public static func server(_ context: OpaquePointer) -> TLSStream? {
        guard let stream = make(context) else { return nil }
        SSL_set_accept_state(stream.ssl)
        return stream
    }

    /// A stream that will say hello to a server, offering `session` (from an
    /// earlier connection's `session()`) for resumption. `serverName` goes in
    /// the hello (SNI). When the context verifies, the certificate must name
    /// `identity`: a DNS name, or an IP address in text (matched against the
    /// certificate's IP address entries). Nil when OpenSSL cannot allocate.
    public static func client(_ context: OpaquePointer, serverName: String?, identity: String? = nil,
                              session: OpaquePointer?) -> TLSStream? {
        guard let stream = make(context) else { return nil }
        SSL_set_connect_state(stream.ssl)
        if let serverName { _ = mtcp_ssl_set_host_name(stream.ssl, serverName) }
        if let identity {
            let accepted = isAddress(identity) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.ssl), identity)
                : SSL_set1_host(stream.ssl, identity)
            guard accepted == 1 else {
                stream.free()
                return nil
            }
        }
        if let session { SSL_set_session(stream.ssl, session) }
        return stream
    }

    /// Whether `text` is an IPv4 or IPv6 address (not a name).
    private static func isAddress(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, text, &address) == 1 || inet_pton(AF_INET6, text, &address) == 1
    }

    private static func make(_ context: OpaquePointer) -> TLSStream? {
        guard let ssl = SSL_new(context) else { return nil }
        guard let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            return nil
        }
        mtcp_bio_set_mem_retry(incoming)
        mtcp_bio_set_mem_retry(outgoing)
        SSL_set_bio(ssl, incoming, outgoing)  // the SSL object owns both from here
        return TLSStream(ssl: ssl, incoming: incoming, outgoing: outgoing)
    }

    /// Frees the connection's TLS state (and the ciphertext not sent).
    public func free() { SSL_free(ssl) }

    /// The handshake is complete.
    public var isEstablished: Bool { SSL_is_init_finished(ssl) == 1 }
    /// The handshake resumed an earlier session.
    public var isResumed: Bool { SSL_session_reused(ssl) == 1 }
    /// Why the server's certificate was refused (OpenSSL's text, e.g.
    /// "Hostname mismatch"); nil when it was not, or not checked.
    public var verificationFailure: String? {
        let result = SSL_get_verify_result(ssl)
        return result == X509_V_OK ? nil : String(cString: X509_verify_cert_error_string(result))
    }
    /// Ciphertext is waiting for room in the socket's send buffer.
    public var hasPendingOutput: Bool { pendingOutput > 0 }
    /// Bytes of that ciphertext: the tail of a record larger than the room
    /// was, or a record OpenSSL wrote on its own (the answer to a KeyUpdate
    /// goes out ahead of the next data).
    public var pendingOutput: Int { mtcp_bio_pending(outgoing) }
    /// The peer said close_notify: an end of stream it meant. A `read` that
    /// returns 0 without it saw the socket's FIN alone, which anyone on the path
    /// can forge (a truncation attack) and a crashed peer also leaves.
    public var receivedCloseNotify: Bool { SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN != 0 }
    /// Whether the stream was made with `context`: a session is kept only with
    /// the context (and so the verification settings) it was established under.
    public func isMade(with context: OpaquePointer) -> Bool { SSL_get_SSL_CTX(ssl) == context }

    /// The session to resume with later, a copy of the connection's (free it
    /// with `TLSStream.release(session:)`); nil when it cannot be resumed. A
    /// copy, because OpenSSL marks a connection's own session unresumable when
    /// the connection is freed without close_notify (a reset, say).
    public func session() -> OpaquePointer? {
        guard let session = SSL_get1_session(ssl) else { return nil }
        defer { SSL_SESSION_free(session) }
        guard SSL_SESSION_is_resumable(session) == 1 else { return nil }
        return SSL_SESSION_dup(session)
    }

    public static func release(session: OpaquePointer) { SSL_SESSION_free(session) }

    // MARK: - Moving ciphertext

    /// Moves waiting ciphertext into the socket's send buffer, straight from
    /// the BIO's memory. Returns whether all of it went.
    public func flush<Device: PacketDevice>(_ socket: Socket, _ context: inout SocketContext<Device>,
                                            scratch: UnsafeMutableRawBufferPointer) throws(SocketError) -> Bool {
        while true {
            var data: UnsafeMutablePointer<CChar>?
            let pending = mtcp_bio_mem_data(outgoing, &data)
            guard pending > 0, let data else { return true }
            let written: Int
            do {
                written = try context.write(socket, UnsafeRawBufferPointer(start: data, count: pending))
            } catch .wouldBlock {
                return false
            }
            // Sent: take the bytes out of the BIO.
            var consumed = 0
            while consumed < written {
                consumed += Int(BIO_read(outgoing, scratch.baseAddress, Int32(min(written - consumed, scratch.count))))
            }
            if written < pending { return false }
        }
    }

    /// Moves what the socket received into the stream. Returns false at the
    /// socket's end of stream.
    private func pull<Device: PacketDevice>(_ socket: Socket, _ context: inout SocketContext<Device>,
                                            scratch: UnsafeMutableRawBufferPointer) throws(TLSStreamError) -> Bool {
        let received: Int
        do {
            received = try context.read(socket, into: scratch)
        } catch .wouldBlock {
            throw .wouldBlock
        } catch {
            throw .socket(error)
        }
        guard received > 0 else { return false }
        BIO_write(incoming, scratch.baseAddress, Int32(received))
        return true
    }

    private func sendPending<Device: PacketDevice>(_ socket: Socket, _ context: inout SocketContext<Device>,
                                                   scratch: UnsafeMutableRawBufferPointer) throws(TLSStreamError) {
        do {
            _ = try flush(socket, &context, scratch: scratch)
        } catch {
            throw .socket(error)
        }
    }

    /// Why OpenSSL's last call failed, taking its queued errors.
    private func failure() -> TLSFailure {
        let failure = TLSFailure(duringHandshake: !isEstablished, code: ERR_peek_error())
        ERR_clear_error()
        return failure
    }

    // MARK: - Plaintext

    /// Reads plaintext into `buffer`, driving the handshake first. Returns 0 at
    /// the end of the stream: close_notify, or the peer's FIN without one
    /// (`receivedCloseNotify` tells which; a client's browser often omits it,
    /// so only the caller knows whether that truncates anything). Handshake
    /// messages and alerts produced on the way are sent as room allows.
    public func read<Device: PacketDevice>(into buffer: UnsafeMutableRawBufferPointer, from socket: Socket,
                                           _ context: inout SocketContext<Device>,
                                           scratch: UnsafeMutableRawBufferPointer) throws(TLSStreamError) -> Int {
        while true {
            ERR_clear_error()
            let count = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
            if count > 0 {
                // OpenSSL handed the plaintext over: it is the caller's even if
                // sending what the read produced fails (the socket's failure
                // shows again on the next call that has something to send).
                try? sendPending(socket, &context, scratch: scratch)
                return Int(count)
            }
            try sendPending(socket, &context, scratch: scratch)
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ:
                guard try pull(socket, &context, scratch: scratch) else { return 0 }
            case SSL_ERROR_ZERO_RETURN:
                return 0
            default:
                throw .failed(failure())
            }
        }
    }

    /// What a connection between exchanges has heard from its peer.
    public enum IdleInput {
        /// Nothing, or only records for the TLS layer itself.
        case nothing
        /// Application data: bytes its peer sent past the last exchange.
        case data
        /// close_notify, or the socket's end of stream.
        case closed
        /// Part of a record, the rest still on its way: the peer is saying
        /// something. Not clean enough to send a request on; a parked
        /// connection hears the rest as an event.
        case recordUnderWay

        /// Nothing a connection between exchanges must act on now: it may stay
        /// (or be) parked; only `.nothing` lets a request go out on it.
        public var canStayIdle: Bool { self == .nothing || self == .recordUnderWay }
    }

    /// Lets OpenSSL take every record that waits, in the socket and in
    /// `incoming`, without taking application data: a TLS 1.3 session ticket
    /// or KeyUpdate is handled and leaves the connection as good as before;
    /// plaintext already decrypted and waiting in OpenSSL (`SSL_pending`), or
    /// any record of data, shows as `.data` although the socket holds nothing.
    /// For a connection about to be parked or reused.
    public func idleInput<Device: PacketDevice>(_ socket: Socket, _ context: inout SocketContext<Device>,
                                                scratch: UnsafeMutableRawBufferPointer) throws(TLSStreamError) -> IdleInput {
        var byte: UInt8 = 0
        while true {
            ERR_clear_error()
            // A peek decrypts up to the first data record and leaves it there.
            let count = SSL_peek(ssl, &byte, 1)
            if count > 0 { return .data }
            // A KeyUpdate asking for ours has its answer written already.
            try sendPending(socket, &context, scratch: scratch)
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ:
                do {
                    guard try pull(socket, &context, scratch: scratch) else { return .closed }
                } catch .wouldBlock {
                    // Without read-ahead OpenSSL has taken the start of a record
                    // out of `incoming` before asking for more: SSL_has_pending
                    // counts those unprocessed bytes.
                    return SSL_has_pending(ssl) == 1 ? .recordUnderWay : .nothing
                }
            case SSL_ERROR_ZERO_RETURN:
                return .closed
            default:
                throw .failed(failure())
            }
        }
    }

    /// Drives a client's handshake. Returns whether it is complete.
    public func handshake<Device: PacketDevice>(_ socket: Socket, _ context: inout SocketContext<Device>,
                                                scratch: UnsafeMutableRawBufferPointer) throws(TLSStreamError) -> Bool {
        while true {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            try sendPending(socket, &context, scratch: scratch)
            if result == 1 { return true }
            guard SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ else { throw .failed(failure()) }
            let pulled: Bool
            do {
                pulled = try pull(socket, &context, scratch: scratch)
            } catch .wouldBlock {
                return false
            }
            // Closed in the middle of the handshake.
            guard pulled else { throw .socket(.connectionReset) }
        }
    }

    /// Encrypts as much of `pieces` as the socket's send buffer can take once
    /// encrypted, and sends it. Short pieces (a response head and a small body)
    /// go in one record. Returns the plaintext bytes taken.
    public func write<Device: PacketDevice>(_ pieces: UnsafeBufferPointer<UnsafeRawBufferPointer>, to socket: Socket,
                                            _ context: inout SocketContext<Device>,
                                            scratch: UnsafeMutableRawBufferPointer) throws(TLSStreamError) -> Int {
        let flushed: Bool
        do {
            flushed = try flush(socket, &context, scratch: scratch)
        } catch {
            throw .socket(error)
        }
        guard flushed else { throw .wouldBlock }
        var room = context.writableBytes(socket)
        var total = 0
        let combined = pieces.reduce(0) { $0 + $1.count }
        // Nothing to write takes nothing (SSL_write of no bytes is an error).
        guard combined > 0 else { return 0 }
        if pieces.count > 1 && combined <= min(Self.recordPayload, scratch.count)
            && combined + Self.recordOverhead <= room {
            var offset = 0
            for piece in pieces {
                UnsafeMutableRawBufferPointer(rebasing: scratch[offset..<offset + piece.count]).copyMemory(from: piece)
                offset += piece.count
            }
            total = try encrypt(UnsafeRawBufferPointer(rebasing: scratch[0..<combined]))
        } else {
            for piece in pieces where !piece.isEmpty {
                let count = min(piece.count, Self.plaintext(fitting: room))
                guard count > 0 else { break }
                let taken = try encrypt(UnsafeRawBufferPointer(rebasing: piece[0..<count]))
                total += taken
                room -= Self.ciphertext(of: taken)
                if taken < piece.count { break }
            }
        }
        try sendPending(socket, &context, scratch: scratch)
        guard total > 0 else { throw .wouldBlock }
        return total
    }

    /// Writes one run of bytes, as the gathering `write` does.
    public func write<Device: PacketDevice>(_ bytes: UnsafeRawBufferPointer, to socket: Socket,
                                            _ context: inout SocketContext<Device>,
                                            scratch: UnsafeMutableRawBufferPointer) throws(TLSStreamError) -> Int {
        try withUnsafePointer(to: bytes) { piece throws(TLSStreamError) in
            try write(UnsafeBufferPointer(start: piece, count: 1), to: socket, &context, scratch: scratch)
        }
    }

    /// Plaintext that fits `room` bytes once in records.
    public static func plaintext(fitting room: Int) -> Int {
        let records = (room + recordPayload + recordOverhead - 1) / (recordPayload + recordOverhead)
        return max(0, room - records * recordOverhead)
    }

    /// Most bytes `count` plaintext bytes take once in records.
    static func ciphertext(of count: Int) -> Int {
        count + (count + recordPayload - 1) / recordPayload * recordOverhead
    }

    private func encrypt(_ bytes: UnsafeRawBufferPointer) throws(TLSStreamError) -> Int {
        ERR_clear_error()
        let count = SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
        if count > 0 { return Int(count) }
        // Before the handshake is done there is nothing to write with yet. No
        // byte of `bytes` was taken then, and a memory BIO never says WANT_WRITE,
        // so no partial record is pending: SSL_write's rule that a retry pass the
        // same buffer does not bind (and SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER is on).
        guard SSL_get_error(ssl, count) == SSL_ERROR_WANT_READ else { throw .failed(failure()) }
        return 0
    }

    /// Queues close_notify (once the handshake is done; there is no session to
    /// close before) and sends what waits. Returns whether all of it went.
    public func close<Device: PacketDevice>(_ socket: Socket, _ context: inout SocketContext<Device>,
                                            scratch: UnsafeMutableRawBufferPointer) throws(SocketError) -> Bool {
        if isEstablished {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
        return try flush(socket, &context, scratch: scratch)
    }
}
