/// Parses one JSON Lines record: a flat JSON object whose values are strings, numbers, booleans
/// or null (the manifest format has no nested values). Numbers keep their text.
struct JSONLineParser {
    let file: String
    let line: Int

    /// The line's pairs, in order; duplicate keys are an error.
    func parse(_ b: UnsafeBufferPointer<UInt8>) throws -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        try visit(b) { key, value in
            if out.contains(where: { $0.key == key }) { throw ManifestError(file: file, line: line, "duplicate key \"\(key)\"") }
            if key.isEmpty { throw ManifestError(file: file, line: line, "a key is empty (\"\"): every value needs a column name") }
            out.append((key, value))
        }
        return out
    }

    /// Calls `body` with each key and value in order (no duplicate check: the caller's).
    func visit(_ b: UnsafeBufferPointer<UInt8>, _ body: (String, String) throws -> Void) throws {
        var i = 0
        let n = b.count
        func fail(_ message: String) -> ManifestError { ManifestError(file: file, line: line, message) }
        func skip() { while i < n, b[i] == 32 || b[i] == 9 || b[i] == 13 || b[i] == 10 { i += 1 } }
        func expect(_ c: UInt8, _ what: @autoclosure () -> String) throws {
            skip()
            guard i < n, b[i] == c else { throw fail("expected \(what()) at column \(i + 1)") }
            i += 1
        }
        func string() throws -> String {
            guard i < n, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string at column \(i + 1)") }
            i += 1
            // Fast path: no escapes, so the string is the bytes between the quotes.
            var j = i
            while j < n, b[j] != UInt8(ascii: "\""), b[j] != UInt8(ascii: "\\"), b[j] >= 0x20 { j += 1 }
            if j < n, b[j] == UInt8(ascii: "\"") {
                guard let s = utf8Text(UnsafeBufferPointer(rebasing: b[i..<j])) else { throw fail("text is not valid UTF-8") }
                i = j + 1
                return s
            }
            var bytes: [UInt8] = []
            var segment = i
            while true {
                guard i < n else { throw fail("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") { break }
                if c < 0x20 { throw fail("control character inside a string at column \(i + 1)") }
                if c == UInt8(ascii: "\\") {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[segment..<i]))
                    i += 1
                    guard i < n else { throw fail("unterminated escape") }
                    switch b[i] {
                    case UInt8(ascii: "\""): bytes.append(0x22)
                    case UInt8(ascii: "\\"): bytes.append(0x5C)
                    case UInt8(ascii: "/"): bytes.append(0x2F)
                    case UInt8(ascii: "b"): bytes.append(0x08)
                    case UInt8(ascii: "f"): bytes.append(0x0C)
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4(at: i + 1)
                        i += 4
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard i + 6 < n, b[i + 1] == UInt8(ascii: "\\"), b[i + 2] == UInt8(ascii: "u") else { throw fail("unpaired surrogate in \\u escape") }
                            let low = try hex4(at: i + 3)
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                        bytes.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw fail("invalid escape at column \(i + 1)")
                    }
                    i += 1
                    segment = i
                    continue
                }
                i += 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[segment..<i]))
            i += 1
            guard let s = utf8Text(bytes) else { throw fail("text is not valid UTF-8") }
            return s
        }
        func hex4(at p: Int) throws -> UInt32 {
            guard p + 4 <= n else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for k in p..<p + 4 {
                let c = b[k]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: throw fail("invalid \\u escape")
                }
                v = v * 16 + d
            }
            return v
        }
        func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard i + count <= n else { return false }
            let w = word.utf8Start
            for k in 0..<count where b[i + k] != w[k] { return false }
            i += count
            return true
        }

        try expect(UInt8(ascii: "{"), "'{' (each line is one JSON object)")
        skip()
        if i < n && b[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skip()
                let key = try string()
                try expect(UInt8(ascii: ":"), "':' after key \"\(key)\"")
                skip()
                guard i < n else { throw fail("missing value for \"\(key)\"") }
                let value: String
                switch b[i] {
                case UInt8(ascii: "\""): value = try string()
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    throw fail("\"\(key)\" has a nested value; manifest values are strings or numbers")
                case UInt8(ascii: "t") where literal("true"): value = "true"
                case UInt8(ascii: "f") where literal("false"): value = "false"
                case UInt8(ascii: "n") where literal("null"): value = ""
                default:
                    let s = i
                    while i < n, (b[i] >= 48 && b[i] <= 57) || b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")
                            || b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") { i += 1 }
                    let text = String(decoding: UnsafeBufferPointer(rebasing: b[s..<i]), as: UTF8.self)
                    guard !text.isEmpty, Double(text) != nil else { throw fail("invalid value for \"\(key)\" at column \(s + 1)") }
                    value = text
                }
                try body(key, value)
                skip()
                guard i < n else { throw fail("unterminated object") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; break }
                throw fail("expected ',' or '}' at column \(i + 1)")
            }
        }
        skip()
        guard i == n else { throw fail("unexpected text after the object at column \(i + 1)") }
    }
}
