import Glibc

/// The whole content of a file (URL lists and expected bodies, read before the run).
func readFileBytes(_ path: String) throws(LoadgenError) -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        throw LoadgenError("cannot read \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        bytes += chunk[0..<count]
        if count < chunk.count { break }
    }
    guard ferror(file) == 0 else { throw LoadgenError("error reading \(path)") }
    return bytes
}

/// Writes `text` to a file, replacing it.
func writeFileText(_ path: String, _ text: String) throws(LoadgenError) {
    guard let file = fopen(path, "wb") else {
        throw LoadgenError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    guard fputs(text, file) >= 0 else { throw LoadgenError("error writing \(path)") }
}
