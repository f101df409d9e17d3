import COpenSSL
import MTCP
import Synchronization

/// The session ticket keys of the process, shared by every core's server
/// context so that a ticket issued on one core resumes on another. The key
/// that encrypts new tickets changes every `interval`; the one before still
/// opens tickets (which are then reissued under the new key), so a ticket
/// resumes for at most two intervals and a key that leaks opens at most that
/// much of the past (forward secrecy of resumed sessions).
public final class TicketKeyRing: @unchecked Sendable {  // the C struct's mutex guards the keys
    let keys: UnsafeMutablePointer<mtcp_ticket_keys>
    public let interval: TimeSpan
    /// When the next rotation is due; nil until a core first looks.
    private let nextRotation = Mutex<Instant?>(nil)

    public static let defaultInterval = TimeSpan.seconds(3600)

    public init(interval: TimeSpan = TicketKeyRing.defaultInterval) {
        self.interval = interval
        keys = .allocate(capacity: 1)
        precondition(mtcp_ticket_keys_init(keys) == 1, "OpenSSL's random generator failed")
    }

    deinit {
        mtcp_ticket_keys_destroy(keys)
        keys.deallocate()
    }

    /// Fresh keys encrypt from now on; the current ones still decrypt.
    public func rotate() {
        precondition(mtcp_ticket_keys_rotate(keys) == 1, "OpenSSL's random generator failed")
    }

    /// Rotates when `interval` has passed since the last rotation (or since
    /// the first call). Every core calls it about once a second; one rotates.
    public func rotateIfDue(now: Instant) {
        let due = nextRotation.withLock { next -> Bool in
            guard let scheduled = next else {
                next = now + interval
                return false
            }
            guard now >= scheduled else { return false }
            next = now + interval
            return true
        }
        if due { rotate() }
    }
}

extension TicketKeyRing: Equatable {
    public static func == (lhs: TicketKeyRing, rhs: TicketKeyRing) -> Bool { lhs === rhs }
}
