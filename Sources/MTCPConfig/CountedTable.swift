/// mTCP's table formats (`arp.conf`, `route.conf`): a header line `KEYWORD <n>` followed
/// by exactly n entry lines, with comments and blank lines allowed anywhere.
enum CountedTable {
    /// The entry lines after checking the header and the count. A count mismatch is
    /// reported on the header line, where the count was declared.
    static func entryLines(
        text: String, file: String, header keyword: String
    ) throws(ConfigurationError) -> [ConfigurationLine] {
        var header: (count: Int, line: ConfigurationLine)?
        var entries: [ConfigurationLine] = []
        for line in ConfigurationText(text, file: file).lines {
            let tokens = line.tokens
            if tokens[0] == keyword {
                if let header {
                    throw line.error(key: keyword, "duplicate header (first on line \(header.line.number))")
                }
                guard tokens.count == 2, let count = decimalInteger(tokens[1]), count >= 0 else {
                    throw line.error(key: keyword, "expected '\(keyword) <n>' with n >= 0, found '\(line.content)'")
                }
                header = (count, line)
            } else if header == nil {
                throw line.error("expected the header '\(keyword) <n>' before the first entry, found '\(line.content)'")
            } else {
                entries.append(line)
            }
        }
        guard let header else {
            throw ConfigurationError(file: file, key: keyword, message: "missing header '\(keyword) <n>'")
        }
        guard entries.count == header.count else {
            throw header.line.error(key: keyword, "declares \(header.count) entries but \(entries.count) follow")
        }
        return entries
    }
}
