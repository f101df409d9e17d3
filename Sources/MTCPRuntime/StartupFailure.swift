import Glibc
import Logging
import MTCPEventLog

/// Reports a start-up failure as one error event on standard error,
/// `program: [error] message` (`<3>program: message` when that is the
/// journal, so `journalctl -p err` finds it), and exits with status 1.
public func exitWithStartupFailure(_ program: String, _ message: String) -> Never {
    EventLog(program: program).logger().error("\(message)")
    exit(1)
}
