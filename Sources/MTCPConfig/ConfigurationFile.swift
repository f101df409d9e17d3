#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads configuration files whole with plain stdio: start-up only, never on the data
/// path. Failures keep their errno so callers can tell "missing" from "unreadable".
enum ConfigurationFile {
    enum Failure: Error, CustomStringConvertible {
        case system(errno: Int32)
        case notUTF8

        var isMissing: Bool {
            if case .system(let code) = self { return code == ENOENT }
            return false
        }

        var description: String {
            switch self {
            case .system(let code): String(cString: strerror(code))
            case .notUTF8: "not valid UTF-8 text"
            }
        }
    }

    /// The file's text, or why it could not be read.
    static func contents(of path: String) -> Result<String, Failure> {
        guard let stream = fopen(path, "rb") else { return .failure(.system(errno: errno)) }
        defer { fclose(stream) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, stream) }
            bytes.append(contentsOf: chunk[..<count])
            if count < chunk.count {
                // A directory opens fine on Linux and fails here with EISDIR.
                if ferror(stream) != 0 { return .failure(.system(errno: errno)) }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.notUTF8) }
        return .success(text)
    }

    /// The file's text; any failure becomes a `ConfigurationError` naming the file.
    static func read(_ path: String) throws(ConfigurationError) -> String {
        switch contents(of: path) {
        case .success(let text): return text
        case .failure(let failure): throw ConfigurationError(file: path, message: "cannot read: \(failure)")
        }
    }
}
