/// The shared line handling of mTCP's configuration formats: `#` starts a comment that
/// runs to the end of the line, blank lines are ignored, and surrounding whitespace
/// never matters. Every format in this module reads its input through this type, so
/// the rules (and the line numbers in errors) are the same everywhere.
struct ConfigurationText {
    /// The meaningful lines, in order: comments stripped, trimmed, never empty.
    let lines: [ConfigurationLine]

    init(_ text: String, file: String) {
        var meaningful: [ConfigurationLine] = []
        // "\r\n" is one Character; a lone "\r" ends a line too. Other Unicode line
        // breaks do not, so that line numbers agree with editors and `sed -n Np`.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        for (index, raw) in lines.enumerated() {
            let content = raw.prefix { $0 != "#" }.trimmingWhitespace
            guard !content.isEmpty else { continue }
            meaningful.append(ConfigurationLine(file: file, number: index + 1, content: content))
        }
        self.lines = meaningful
    }
}

/// One meaningful line of a configuration file.
struct ConfigurationLine {
    let file: String
    /// 1-based, counting every line of the file (comments and blank lines included).
    let number: Int
    /// The line without its comment and surrounding whitespace; never empty.
    let content: Substring

    /// The whitespace-separated words of the line.
    var tokens: [Substring] { content.split(whereSeparator: \.isWhitespace) }

    /// The line's words, checking that there are `counts` of them laid out as `form`.
    func fields(_ counts: ClosedRange<Int>, form: String) throws(ConfigurationError) -> [Substring] {
        let tokens = self.tokens
        guard counts.contains(tokens.count) else { throw error("expected '\(form)', found '\(content)'") }
        return tokens
    }

    func error(key: String? = nil, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, line: number, key: key, message: message)
    }

    /// Splits a `key = value` line at its first `=`.
    func keyValue() throws(ConfigurationError) -> ConfigurationValue {
        guard let equals = content.firstIndex(of: "=") else {
            throw error("expected 'key = value', found '\(content)'")
        }
        let key = String(content[..<equals].trimmingWhitespace)
        guard !key.isEmpty else { throw error("expected a key before '='") }
        let value = content[content.index(after: equals)...].trimmingWhitespace
        guard !value.isEmpty else { throw error(key: key, "expected a value after '='") }
        return ConfigurationValue(line: self, key: key, text: value)
    }
}

/// The value of one `key = value` line, with the conversions the formats need. Every
/// conversion failure names the file, the line, the key and what was expected.
struct ConfigurationValue {
    let line: ConfigurationLine
    let key: String
    /// Trimmed and never empty.
    let text: Substring

    func error(_ message: String) -> ConfigurationError { line.error(key: key, message) }

    /// The whitespace-separated words of the value (at least one).
    var tokens: [Substring] { text.split(whereSeparator: \.isWhitespace) }

    /// A decimal integer within `range`.
    func integer(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let number = decimalInteger(text), range.contains(number) else {
            throw error("expected an integer in \(range.lowerBound)...\(range.upperBound), found '\(text)'")
        }
        return number
    }

    /// One of a fixed set of words, e.g. `yes`/`no`.
    func choice<Result>(_ options: KeyValuePairs<String, Result>) throws(ConfigurationError) -> Result {
        guard let match = options.first(where: { $0.key == text }) else {
            throw error("expected one of \(options.map(\.key).joined(separator: ", ")), found '\(text)'")
        }
        return match.value
    }

    /// A value that must be a single word (no inner whitespace).
    func word(_ what: String) throws(ConfigurationError) -> String {
        guard tokens.count == 1 else { throw error("expected \(what) (one word), found '\(text)'") }
        return String(text)
    }
}

/// Parses an optionally negative decimal integer made of ASCII digits only: unlike
/// `Int.init(_:)` this refuses a leading "+", and it refuses overflow with nil.
func decimalInteger(_ text: Substring) -> Int? {
    let digits = text.first == "-" ? text.dropFirst() : text
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return Int(text)
}

extension Substring {
    var trimmingWhitespace: Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return self[endIndex...] }
        return self[first...last]
    }
}
