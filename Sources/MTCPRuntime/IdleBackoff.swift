import Glibc

/// Stops an idle engine from spinning: after `spinLimit` empty polls in a row it
/// sleeps, doubling the sleep up to `maximumSleepMicroseconds`; any traffic, or
/// output still waiting to be sent, resets it. The virtual devices used here
/// offer no RX interrupts, so this is how an idle appliance gets close to no CPU
/// (mTCP's packet I/O did the same).
public struct IdleBackoff: Sendable {
    public var spinLimit: Int
    public var maximumSleepMicroseconds: UInt32
    private var emptyPolls = 0
    private var sleepMicroseconds: UInt32 = 1

    /// - Parameter maximumSleepMicroseconds: 0 turns sleeping off (benchmarks).
    public init(spinLimit: Int = 1024, maximumSleepMicroseconds: UInt32 = 500) {
        self.spinLimit = spinLimit
        self.maximumSleepMicroseconds = maximumSleepMicroseconds
    }

    /// Call after every iteration with the number of frames it received and
    /// whether output is still waiting to be sent (the device's ring was full):
    /// that is work too, and sleeping on it would delay it. Returns whether it slept.
    @inline(__always) @discardableResult
    public mutating func record(received: Int, outputPending: Bool) -> Bool {
        if received > 0 || outputPending {
            emptyPolls = 0
            sleepMicroseconds = 1
            return false
        }
        emptyPolls &+= 1
        guard maximumSleepMicroseconds > 0, emptyPolls > spinLimit else { return false }
        usleep(sleepMicroseconds)
        sleepMicroseconds = min(sleepMicroseconds * 2, maximumSleepMicroseconds)
        return true
    }
}
