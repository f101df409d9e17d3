/// TCP timers on the engine: one timer wheel for every connection, its nodes
/// following the deadlines each connection keeps (`TCPConnection.deadlines`).
extension Engine {
    /// Runs every TCP timer that is due.
    mutating func runTCPTimers(now: Instant) {
        while let node = tcp.timers.nextExpired(now: now) {
            let (index, timer) = TCPTimer.decode(node)
            let connection = tcp.connections.block(at: index)
            guard connection.pointee.inUse else { continue }
            connection.pointee.deadlines[timer] = nil
            connection.pointee.timerExpired(timer, now: now, &self)
            settle(connection)
        }
    }

    /// Makes the wheel's nodes of a connection follow the deadlines it changed.
    @inline(__always)
    mutating func followDeadlines(of connection: UnsafeMutablePointer<TCPConnection>,
                                  _ requests: ConnectionRequests) {
        // Only the timers that changed, lowest bit first: this runs for most segments.
        var changed = requests.changedTimers
        guard changed != 0 else { return }
        let slot = connection.pointee.slot
        repeat {
            let timer = TCPTimer(rawValue: changed.trailingZeroBitCount).unsafelyUnwrapped
            changed &= changed &- 1
            if let deadline = connection.pointee.deadlines[timer] {
                tcp.timers.schedule(timer.node(slot), at: deadline)
            } else {
                tcp.timers.cancel(timer.node(slot))
            }
        } while changed != 0
    }
}
