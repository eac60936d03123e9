/// A problem with a manifest or another dataset input, naming the file, the line and the field.
///
/// `description` is stable: `file:line: message` (or `file: message` when no line applies).
public struct ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line number in the file, when the problem is on a line.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}
