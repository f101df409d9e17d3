/// Remembers where each key, address or name first appeared so that a repetition can
/// be reported together with the line of the first occurrence.
struct FirstOccurrences<Key: Hashable> {
    private var lines: [Key: Int] = [:]

    /// The line of the first occurrence of `key`, if any, after recording `line` for it.
    mutating func record(_ key: Key, line: Int) -> Int? {
        if let first = lines[key] { return first }
        lines[key] = line
        return nil
    }

    func line(of key: Key) -> Int? { lines[key] }
}
