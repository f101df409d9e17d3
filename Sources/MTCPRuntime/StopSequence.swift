import MTCP

/// One core's graceful stop, step by step once a stop is requested:
///
/// 1. drain (`drain_s`): the application goes on accepting and serving, but
///    tells health checkers it is going away (the HTTP server's `/healthz`
///    answers 503), so a load balancer withdraws it while nothing is refused yet;
/// 2. stop accepting (the listeners close), then open connections get up to the
///    grace period (`shutdown_grace_s`) to finish;
/// 3. once the application is done, closing handshakes get `closingTime`, so
///    peers are not left retransmitting FINs to an address that would answer
///    them with resets.
///
/// Time is passed in, so tests drive it explicitly.
struct StopSequence {
    /// What the application must do in this iteration.
    enum Action: Equatable {
        case none
        case startDraining
        case stopAccepting
    }

    let drain: TimeSpan
    let grace: TimeSpan
    let closingTime: TimeSpan
    private var drainingSince: Instant?
    private var stoppedAcceptingAt: Instant?
    private var finishedAt: Instant?

    init(drain: TimeSpan, grace: TimeSpan, closingTime: TimeSpan) {
        self.drain = drain
        self.grace = grace
        self.closingTime = closingTime
    }

    /// Called in every iteration after a stop was requested. `skipDrain`: a
    /// second signal came, or the stop follows a failure (no drain, or no more of it).
    mutating func next(now: Instant, skipDrain: Bool) -> Action {
        guard stoppedAcceptingAt == nil else { return .none }
        if !skipDrain && drain > .zero {
            guard let drainingSince else {
                drainingSince = now
                return .startDraining
            }
            if now.since(drainingSince) < drain { return .none }
        }
        stoppedAcceptingAt = now
        return .stopAccepting
    }

    /// Whether the loop ends now: only once accepting stopped, when the
    /// application is done and its connections closed (or `closingTime` after it
    /// was done), or when the grace period is over.
    mutating func isOver(now: Instant, applicationFinished: Bool, openConnections: Int) -> Bool {
        guard let stoppedAcceptingAt else { return false }
        if finishedAt == nil && applicationFinished { finishedAt = now }
        if let finishedAt, openConnections == 0 || now.since(finishedAt) >= closingTime { return true }
        return now.since(stoppedAcceptingAt) >= grace
    }
}
