import Glibc

/// Reports a start-up failure as one line on standard error, `program: message`,
/// and exits with status 1 — what an operator's service manager shows.
public func exitWithStartupFailure(_ program: String, _ message: String) -> Never {
    let line = "\(program): \(message)\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(1)
}
