/// What the engine does after each call on a connection: the work it asked for
/// (`ConnectionRequests`) on the output and event lists, the timer wheel, the
/// flow table and the pools.
extension Engine {
    /// Carries out and clears the requests a connection left during one call.
    @inline(__always)
    mutating func settle(_ connection: UnsafeMutablePointer<TCPConnection>) {
        // Empty buffers give their chunks back at once (see `BufferChunkPool`).
        if connection.pointee.send.chunkCanGoBack { tcp.sendChunks.give(connection.pointee.send.chunk.detach()) }
        if connection.pointee.receive.chunkCanGoBack {
            tcp.receiveChunks.give(connection.pointee.receive.chunk.detach())
        }
        let requests = connection.pointee.requests
        guard !requests.isEmpty else { return }
        connection.pointee.requests = []
        followDeadlines(of: connection, requests)
        if requests.contains(.ended) { leaveFlowTable(connection, requests) }
        if !requests.isDisjoint(with: [.ended, .handleReturned]), !connection.pointee.ownedByApplication {
            // Entries it left on the lists are skipped as stale once the slot is
            // reused; SRPT's heaps hold slots, so it leaves them now.
            leaveSizeOrderedData(connection)
            return release(connection)
        }
        let id = connection.pointee.id
        if requests.contains(.control) && !connection.pointee.inControlList {
            connection.pointee.inControlList = tcp.push(id, to: .control)
        }
        if requests.contains(.ack) && !connection.pointee.inAckList {
            connection.pointee.inAckList = tcp.push(id, to: .ack)
        }
        if !requests.isDisjoint(with: [.shortData, .bulkData]) && !connection.pointee.inDataList {
            connection.pointee.inDataList = queueForData(connection, short: requests.contains(.shortData))
        }
        if requests.contains(.events) && !connection.pointee.inEventList {
            connection.pointee.inEventList = tcp.push(id, to: .events)
        }
    }

    /// An ended connection leaves the flow table (its tuple may be used again at
    /// once) and, if it was half-open, its listener's SYN queue; what it learnt
    /// of the path is kept for the peer's next handshake.
    private mutating func leaveFlowTable(_ connection: UnsafeMutablePointer<TCPConnection>,
                                         _ requests: ConnectionRequests) {
        let listener = Int(connection.pointee.listener)
        if requests.contains(.endedHalfOpen), tcp.listeners.isActive(listener) {
            tcp.listeners[listener].halfOpen -= 1
        }
        keepPeerRTT(of: connection, requests)
        tcp.removeFlow(connection.pointee.tuple)
    }

    /// Returns the connection, its buffers' chunks if they hold any, and their
    /// reservations to the pools; handles to it go stale.
    private mutating func release(_ connection: UnsafeMutablePointer<TCPConnection>) {
        if connection.pointee.send.chunk.isAttached { tcp.sendChunks.give(connection.pointee.send.chunk.detach()) }
        if connection.pointee.receive.chunk.isAttached {
            tcp.receiveChunks.give(connection.pointee.receive.chunk.detach())
        }
        tcp.sendChunks.cancelReservation()
        tcp.receiveChunks.cancelReservation()
        tcp.connections.release(connection.pointee.slot)
    }
}
