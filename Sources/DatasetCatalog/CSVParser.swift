/// An RFC 4180 record parser over bytes, fed chunk by chunk (so a file of any size is read in
/// bounded memory). Fields may be quoted; quotes inside are doubled; quoted fields may hold
/// commas and line breaks. Lines end with LF or CRLF. Text must be UTF-8.
struct CSVParser {
    let file: String

    enum Step {
        case record(fields: [String], next: Int, lines: Int)
        case blank(next: Int)
        case needMore
    }

    /// Parses one record starting at `start`. `line` is the record's first line (for errors).
    /// Returns `.needMore` when the record may continue past the buffer and more data exists.
    func record(_ b: UnsafeBufferPointer<UInt8>, from start: Int, atEOF: Bool, line: Int, expected: Int) throws -> Step {
        let n = b.count
        var i = start
        // A line with nothing on it is skipped.
        if i < n && b[i] == 10 { return .blank(next: i + 1) }
        if i + 1 < n && b[i] == 13 && b[i + 1] == 10 { return .blank(next: i + 2) }
        if i + 1 >= n && i < n && b[i] == 13 && !atEOF { return .needMore }
        var fields: [String] = []
        fields.reserveCapacity(expected)
        var lines = 0
        while true {
            if i < n && b[i] == UInt8(ascii: "\"") {
                i += 1
                var bytes: [UInt8] = []
                var segment = i
                while true {
                    if i >= n {
                        if atEOF { throw ManifestError(file: file, line: line, "unterminated quoted field") }
                        return .needMore
                    }
                    let c = b[i]
                    if c == UInt8(ascii: "\"") {
                        if i + 1 < n && b[i + 1] == UInt8(ascii: "\"") {
                            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[segment...i]))
                            i += 2
                            segment = i
                            continue
                        }
                        if i + 1 >= n && !atEOF { return .needMore }
                        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[segment..<i]))
                        i += 1
                        break
                    }
                    if c == 10 { lines += 1 }
                    i += 1
                }
                guard let quoted = utf8Text(bytes) else { throw ManifestError(file: file, line: line + lines, "text is not valid UTF-8") }
                fields.append(quoted)
                if i >= n {
                    if !atEOF { return .needMore }
                    return .record(fields: fields, next: i, lines: lines + 1)
                }
                switch b[i] {
                case UInt8(ascii: ","): i += 1; continue
                case 10: return .record(fields: fields, next: i + 1, lines: lines + 1)
                case 13:
                    if i + 1 < n && b[i + 1] == 10 { return .record(fields: fields, next: i + 2, lines: lines + 1) }
                    if i + 1 >= n && !atEOF { return .needMore }
                    return .record(fields: fields, next: i + 1, lines: lines + 1)
                default:
                    throw ManifestError(file: file, line: line + lines, "unexpected character after a closing quote (field \(fields.count))")
                }
            } else {
                let s = i
                while i < n {
                    let c = b[i]
                    if c == UInt8(ascii: ",") || c == 10 || c == 13 { break }
                    if c == UInt8(ascii: "\"") {
                        throw ManifestError(file: file, line: line + lines, "a quote inside an unquoted field (field \(fields.count + 1)); quote the whole field and double the quote")
                    }
                    i += 1
                }
                if i >= n && !atEOF { return .needMore }
                fields.append(try text(UnsafeBufferPointer(rebasing: b[s..<i]), line: line + lines))
                if i >= n { return .record(fields: fields, next: i, lines: lines + 1) }
                switch b[i] {
                case UInt8(ascii: ","): i += 1
                case 10: return .record(fields: fields, next: i + 1, lines: lines + 1)
                default:  // CR
                    if i + 1 < n && b[i + 1] == 10 { return .record(fields: fields, next: i + 2, lines: lines + 1) }
                    if i + 1 >= n && !atEOF { return .needMore }
                    return .record(fields: fields, next: i + 1, lines: lines + 1)
                }
            }
        }
    }

    private func text(_ bytes: UnsafeBufferPointer<UInt8>, line: Int) throws -> String {
        guard let s = utf8Text(bytes) else {
            throw ManifestError(file: file, line: line, "text is not valid UTF-8")
        }
        return s
    }
}
