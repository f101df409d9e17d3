/// A problem in a configuration file, naming where it is so an operator can fix it.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line number, nil when the problem concerns the whole file.
    public var line: Int?
    /// The key concerned, when there is one.
    public var key: String?
    public var message: String

    public init(file: String, line: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "'\(key)': " }
        return text + message
    }
}
