import Foundation
import ImageCodecs

/// The two manifest encodings, chosen by the file's extension.
public enum ManifestFormat: String, Sendable {
    case csv, jsonl

    /// `.csv`, or `.jsonl` / `.ndjson`; nil for anything else.
    public static func of(path: String) -> ManifestFormat? {
        switch (path as NSString).pathExtension.lowercased() {
        case "csv": .csv
        case "jsonl", "ndjson": .jsonl
        default: nil
        }
    }

    static func require(_ path: String) throws -> ManifestFormat {
        guard let f = of(path: path) else {
            throw ManifestError(file: path, "unknown manifest format: name it .csv or .jsonl")
        }
        return f
    }
}

/// Reads manifests, streaming the file in blocks, and validates every row as the spec says.
public enum ManifestReader {
    /// Bytes read per block: memory stays bounded whatever the file's size.
    static let blockSize = 4 << 20

    /// Reads a whole manifest. Relative paths resolve against the manifest's folder.
    /// - Throws: `ManifestError` naming the file, the line and the problem.
    public static func read(_ path: String) throws -> Manifest {
        var columns: [String] = []
        var cells: [[String]] = []
        var lines: [Int32] = []  // each row's first line; its count is the row count
        switch try ManifestFormat.require(path) {
        case .csv:
            try streamCSV(path) { header in
                columns = header
                cells = header.map { _ in [] }
            } row: { line, fields in
                for c in 0..<fields.count { cells[c].append(fields[c]) }
                lines.append(Int32(clamping: line))
            }
        case .jsonl:
            (columns, cells, lines) = try readJSONLinesColumns(path)
            if lines.isEmpty { throw ManifestError(file: path, "no rows") }
            guard columns.contains("path") else { throw ManifestError(file: path, "missing required column 'path'") }
        }
        // The folder that really holds the file (symbolic links resolved): "../x.png" means what
        // it means to the system, and to any other tool reading the manifest.
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.resolvingSymlinksInPath().path
        var manifest = Manifest(columns: columns, cells: cells, baseDirectory: base)
        manifest.sourceLines = lines
        return manifest
    }

    /// Streams a CSV manifest: the header, then each row's fields with its line number.
    public static func streamCSV(_ path: String, header: ([String]) throws -> Void, row: (Int, [String]) throws -> Void) throws {
        var columns: [String]? = nil
        var checks: [(Int, String)] = []
        try streamCSVRecords(path) { line, fields in
            if let cols = columns {
                guard fields.count == cols.count else {
                    throw ManifestError(file: path, line: line, "expected \(cols.count) fields, found \(fields.count)")
                }
                for (c, name) in checks { try validate(name, fields[c], file: path, line: line) }
                try row(line, fields)
            } else {
                try checkHeader(fields, file: path)
                columns = fields
                checks = fields.enumerated().filter { Manifest.reservedColumns.contains($0.element) }.map { ($0.offset, $0.element) }
                try header(fields)
            }
        }
        if columns == nil { throw ManifestError(file: path, "empty file: a header row is required") }
    }

    /// Streams the records of any RFC 4180 CSV file (no manifest rules), with line numbers.
    public static func streamCSVRecords(_ path: String, _ record: (Int, [String]) throws -> Void) throws {
        let parser = CSVParser(file: path)
        var width = 8
        try blocks(path) { buffer, atEOF, line in
            var pos = 0
            if line == 1 && buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF { pos = 3 }  // BOM
            while pos < buffer.count {
                switch try parser.record(buffer, from: pos, atEOF: atEOF, line: line, expected: width) {
                case .needMore:
                    return pos
                case .blank(let next):
                    pos = next
                    line += 1
                case .record(let fields, let next, let lines):
                    width = fields.count
                    try record(line, fields)
                    pos = next
                    line += lines
                }
            }
            return pos
        }
    }

    /// A whole CSV file as a header and rows, every row checked to have the header's width.
    public static func table(_ path: String, required: [String] = []) throws -> (header: [String], rows: [(line: Int, fields: [String])]) {
        var header: [String]? = nil
        var rows: [(line: Int, fields: [String])] = []
        try streamCSVRecords(path) { line, fields in
            guard let h = header else { header = fields; return }
            guard fields.count == h.count else { throw ManifestError(file: path, line: line, "expected \(h.count) fields, found \(fields.count)") }
            rows.append((line, fields))
        }
        guard let h = header else { throw ManifestError(file: path, "empty file: a header row is required") }
        // A required column named twice is ambiguous: which one holds it?
        for name in required where h.filter({ $0 == name }).count > 1 {
            throw ManifestError(file: path, line: 1, "column '\(name)' appears twice")
        }
        for name in required where !h.contains(name) {
            throw ManifestError(file: path, line: 1, "missing required column '\(name)' (columns: \(h.joined(separator: ", ")))")
        }
        return (h, rows)
    }

    /// Streams a JSON Lines manifest: each object's key/value pairs with its line number.
    /// Each block's lines are parsed on all cores; rows are still delivered in file order, and
    /// the error reported is the one on the earliest line.
    public static func streamJSONLines(_ path: String, row: (Int, [(key: String, value: String)]) throws -> Void) throws {
        try jsonLinePieces(path) { lines in
            var rows: [(Int, [(key: String, value: String)])] = []
            try lines { line, slice in
                let pairs = try JSONLineParser(file: path, line: line).parse(slice)
                var hasPath = false
                for (key, value) in pairs where Manifest.reservedColumns.contains(key) {
                    if key == "path" { hasPath = true }
                    try validate(key, value, file: path, line: line)
                }
                if !hasPath { throw ManifestError(file: path, line: line, "missing required key 'path'") }
                rows.append((line, pairs))
            }
            return rows
        } consume: { rows in
            for (line, pairs) in rows { try row(line, pairs) }
        }
    }

    /// A piece of a JSON Lines file, parsed into columns.
    struct ColumnPiece: Sendable {
        var keys: [String] = []
        var cells: [[String]] = []
        /// Each row's line; its count is the piece's row count.
        var lines: [Int32] = []
        var count: Int { lines.count }
    }

    /// Reads a JSON Lines manifest column by column: each piece of each block is parsed straight
    /// into columns on its own core (no per-row arrays), and pieces are then joined column-wise.
    static func readJSONLinesColumns(_ path: String) throws -> (columns: [String], cells: [[String]], lines: [Int32]) {
        var columns: [String] = []
        var cells: [[String]] = []
        var index: [String: Int] = [:]
        var rowLines: [Int32] = []  // each row's line; its count is the rows so far
        try jsonLinePieces(path) { lines -> ColumnPiece in
            var piece = ColumnPiece()
            var local: [String: Int] = [:]
            var lastKeys: [String] = [], rowKeys: [String] = []
            var lastSlots: [Int] = [], rowSlots: [Int] = []
            try lines { line, slice in
                rowKeys.removeAll(keepingCapacity: true)
                rowSlots.removeAll(keepingCapacity: true)
                var hasPath = false
                try JSONLineParser(file: path, line: line).visit(slice) { key, value in
                    let k = rowSlots.count
                    let slot: Int
                    if k < lastKeys.count && lastKeys[k] == key {
                        slot = lastSlots[k]  // the same key in the same place as the row before
                    } else if let c = local[key] {
                        slot = c
                    } else {
                        // As a CSV header column must have a name, so must a key.
                        if key.isEmpty { throw ManifestError(file: path, line: line, "a key is empty (\"\"): every value needs a column name") }
                        slot = piece.keys.count
                        local[key] = slot
                        piece.keys.append(key)
                        piece.cells.append([String](repeating: "", count: piece.count))
                    }
                    if rowSlots.contains(slot) { throw ManifestError(file: path, line: line, "duplicate key \"\(key)\"") }
                    switch key {
                    case "path", "label", "split", "origin", "weight", "source_row":
                        if key == "path" { hasPath = true }
                        try validate(key, value, file: path, line: line)
                    default: break
                    }
                    rowKeys.append(key)
                    rowSlots.append(slot)
                    piece.cells[slot].append(value)
                }
                if !hasPath { throw ManifestError(file: path, line: line, "missing required key 'path'") }
                piece.lines.append(Int32(clamping: line))
                if rowSlots.count < piece.keys.count {  // keys this row lacks: unknown cells
                    for c in 0..<piece.keys.count where piece.cells[c].count < piece.count { piece.cells[c].append("") }
                }
                if rowKeys != lastKeys { swap(&lastKeys, &rowKeys); swap(&lastSlots, &rowSlots) }
            }
            return piece
        } consume: { piece in
            for key in piece.keys where index[key] == nil {
                index[key] = columns.count
                columns.append(key)
                cells.append([String](repeating: "", count: rowLines.count))
            }
            var filled = [Bool](repeating: false, count: columns.count)
            for (k, key) in piece.keys.enumerated() {
                let c = index[key]!
                cells[c].append(contentsOf: piece.cells[k])
                filled[c] = true
            }
            for c in 0..<columns.count where !filled[c] { cells[c].append(contentsOf: repeatElement("", count: piece.count)) }
            rowLines += piece.lines
        }
        return (columns, cells, rowLines)
    }

    /// A piece's lines: calls its argument with each non-blank line's number and bytes.
    typealias LineWalker = ((Int, UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Void

    /// Splits every block's complete lines into pieces, lets `work` turn each piece's lines into
    /// a `T` on its own core, and hands the pieces over in file order. The error reported is the
    /// one on the earliest line.
    static func jsonLinePieces<T: Sendable>(_ path: String, work: @escaping @Sendable (LineWalker) throws -> T,
                                            consume: (T) throws -> Void) throws {
        let threads = ProcessInfo.processInfo.activeProcessorCount
        try blocks(path) { buffer, atEOF, line in
            // The complete lines of this block (all of it at the end of the file).
            var end = buffer.count
            if !atEOF {
                while end > 0 && buffer[end - 1] != 10 { end -= 1 }
                if end == 0 { return 0 }  // a line longer than the block: wait for more
            }
            var starts = [0]
            let pieces = max(1, min(threads * 2, end / 65_536))
            for k in 1..<pieces {
                var s = end * k / pieces
                while s < end && buffer[s - 1] != 10 { s += 1 }
                if s < end && s > starts.last! { starts.append(s) }
            }
            starts.append(end)
            var lineAt = [line]
            for k in 1..<starts.count {
                var count = 0
                for i in starts[k - 1]..<starts[k] where buffer[i] == 10 { count += 1 }
                lineAt.append(lineAt[k - 1] + count)
            }
            nonisolated(unsafe) let bytes = buffer
            let (pieceStarts, pieceLines) = (starts, lineAt)
            let parsed = ParallelMap.run(count: starts.count - 1, threads: threads) { k -> Result<T, ManifestError> in
                var current = pieceLines[k]
                let walker: LineWalker = { visit in
                    var pos = pieceStarts[k]
                    current = pieceLines[k]
                    while pos < pieceStarts[k + 1] {
                        var e = pos
                        while e < pieceStarts[k + 1] && bytes[e] != 10 { e += 1 }
                        // A UTF-8 byte order mark before the first line is skipped, as for CSV.
                        let bom = current == 1 && e - pos >= 3 && bytes[pos] == 0xEF && bytes[pos + 1] == 0xBB && bytes[pos + 2] == 0xBF
                        let slice = UnsafeBufferPointer(rebasing: bytes[(bom ? pos + 3 : pos)..<e])
                        if !slice.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { try visit(current, slice) }
                        pos = e + 1
                        current += 1
                    }
                }
                do {
                    return .success(try work(walker))
                } catch let error as ManifestError {
                    return .failure(error)
                } catch {
                    return .failure(ManifestError(file: path, line: current, "\(error)"))
                }
            }
            for piece in parsed {
                switch piece {
                case .success(let value): try consume(value)
                case .failure(let error): throw error
                }
            }
            line = lineAt.last!
            return end
        }
    }

    /// Feeds the file in blocks; `body` returns how many bytes it consumed, the rest is carried
    /// into the next block (a record never needs more than what is unconsumed plus one block).
    static func blocks(_ path: String, _ body: (UnsafeBufferPointer<UInt8>, Bool, inout Int) throws -> Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            throw ManifestError(file: path, !exists ? "no such file" : (isDir.boolValue ? "is a directory" : "cannot be read"))
        }
        defer { try? handle.close() }
        var carry: [UInt8] = []
        var line = 1
        var atEOF = false
        while !atEOF {
            let chunk: Data
            do { chunk = try handle.read(upToCount: blockSize) ?? Data() } catch {
                throw ManifestError(file: path, "cannot read: \(FileProblem.reading(path))")
            }
            atEOF = chunk.count < blockSize
            carry.append(contentsOf: chunk)
            let used = try carry.withUnsafeBufferPointer { try body($0, atEOF, &line) }
            carry.removeFirst(min(used, carry.count))
        }
    }

    static func checkHeader(_ fields: [String], file: String) throws {
        var seen = Set<String>()
        for (i, name) in fields.enumerated() {
            if name.isEmpty { throw ManifestError(file: file, line: 1, "column \(i + 1) of the header has no name") }
            if !seen.insert(name).inserted { throw ManifestError(file: file, line: 1, "column '\(name)' appears twice in the header") }
        }
        guard seen.contains("path") else { throw ManifestError(file: file, line: 1, "missing required column 'path'") }
    }

    /// A decimal number as other tools read one (`1`, `0.5`, `-2e-3`, `.5`): Swift's `Double`
    /// also takes hexadecimal (`0x10`), `inf` and `nan`, which pandas would read as text.
    public static func isDecimalNumber(_ text: String) -> Bool {
        var digits = 0, i = text.utf8.startIndex
        let u = text.utf8
        if i < u.endIndex, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i = u.index(after: i) }
        while i < u.endIndex, (48...57).contains(u[i]) { digits += 1; i = u.index(after: i) }
        if i < u.endIndex, u[i] == UInt8(ascii: ".") {
            i = u.index(after: i)
            while i < u.endIndex, (48...57).contains(u[i]) { digits += 1; i = u.index(after: i) }
        }
        guard digits > 0 else { return false }
        if i < u.endIndex, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
            i = u.index(after: i)
            if i < u.endIndex, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i = u.index(after: i) }
            var exponent = 0
            while i < u.endIndex, (48...57).contains(u[i]) { exponent += 1; i = u.index(after: i) }
            guard exponent > 0 else { return false }
        }
        return i == u.endIndex
    }

    /// The spec's rules for the reserved columns.
    static func validate(_ column: String, _ value: String, file: String, line: Int) throws {
        switch column {
        case "path":
            if value.isEmpty { throw ManifestError(file: file, line: line, "empty path") }
        case "weight":
            if value.isEmpty { return }
            guard isDecimalNumber(value), let w = Double(value), w.isFinite, w >= 0 else {
                throw ManifestError(file: file, line: line, "invalid weight '\(value)': a finite number >= 0")
            }
        case "source_row":
            if value.isEmpty { return }
            guard let r = Int(value), r >= 0 else {
                throw ManifestError(file: file, line: line, "invalid source_row '\(value)': a row index >= 0")
            }
        case "split":
            guard ["", "train", "val", "test"].contains(value) else {
                throw ManifestError(file: file, line: line, "invalid split '\(value)': train, val or test")
            }
        case "origin":
            guard ["", "real", "synthetic"].contains(value) else {
                throw ManifestError(file: file, line: line, "invalid origin '\(value)': real or synthetic")
            }
        default:
            return
        }
    }
}

/// Writes manifests atomically (a temporary file, then a rename).
public enum ManifestWriter {
    /// Writes `manifest` to `path` (CSV or JSON Lines by extension). Relative image paths are
    /// rewritten so that they still resolve from the new manifest's folder.
    public static func write(_ manifest: Manifest, to path: String) throws {
        let files = AtomicFileSet()
        try write(manifest, to: path, in: files)
        do { try files.commit() } catch let e as FileWriteError { throw ManifestError(file: path, "cannot write: \(e.reason)") }
    }

    /// Stages `manifest` for `path` in `files`, to appear with the set's other files.
    public static func write(_ manifest: Manifest, to path: String, in files: AtomicFileSet) throws {
        let bytes = try encode(manifest, for: path)
        do { try files.add(bytes, to: path) } catch let e as FileWriteError { throw ManifestError(file: path, "cannot write: \(e.reason)") }
    }

    /// The bytes `write` puts at `path`: checked, rebased and encoded, CSV or JSON Lines by its
    /// extension.
    public static func encode(_ manifest: Manifest, for path: String) throws -> Data {
        let format = try ManifestFormat.require(path)
        // JSON Lines carries the columns in its rows: with none, they would be lost, and the
        // file would not read back (an empty .jsonl has no rows).
        if format == .jsonl && manifest.count == 0 {
            throw ManifestError(file: path, "not written: a manifest with no rows has no line to carry its columns in JSON Lines; write it as .csv")
        }
        // A manifest Curate writes is one Curate (and the spec) reads back: a derived column
        // that gives a reserved column a value the spec forbids (a tag mapping weights to -1, a
        // split to "holdout") stops the write, naming the row.
        for column in ["path", "split", "origin", "weight", "source_row"] {
            guard let values = manifest.column(column) else { continue }
            for (r, v) in values.enumerated() {
                do { try ManifestReader.validate(column, v, file: path, line: 0) } catch let e as ManifestError {
                    throw ManifestError(file: path, "not written: row \(r + 1)\(manifest.sourceLines == nil ? "" : " (\(manifest.place(r)) of its source)"): \(e.message)")
                }
            }
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
        let m = rebased(manifest, to: base)
        return Data(format == .csv ? csv(m) : jsonLines(m))
    }

    /// The manifest with relative paths re-expressed against `base`.
    public static func rebased(_ manifest: Manifest, to base: String) -> Manifest {
        var m = manifest
        // Both folders as the system sees them (symbolic links resolved): a path written
        // relative to a linked folder must reach the file from where the link points.
        func physical(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path }
        let old = physical(manifest.baseDirectory), target = physical(base)
        m.baseDirectory = base
        guard old != target, let c = m.index(of: "path") else { return m }
        // The way from the new folder to the old one, once; a plain relative path (no "."
        // or ".." segments) then only needs it in front, and the rest go through normalisation.
        let prefix = relativePath(old, from: target)
        let paths = m.cells[c].map { p -> String in
            if p.hasPrefix("/") { return p }
            if !Manifest.hasDotSegments(p) {
                return prefix.isEmpty ? p : prefix + "/" + p
            }
            return relativePath(Manifest.normalize(old + "/" + p), from: target)
        }
        m.setColumn("path", paths)
        return m
    }

    /// `target` relative to the folder `base` (both absolute).
    public static func relativePath(_ target: String, from base: String) -> String {
        let t = target.split(separator: "/"), b = base.split(separator: "/")
        var common = 0
        while common < t.count && common < b.count && t[common] == b[common] { common += 1 }
        let ups = [String](repeating: "..", count: b.count - common)
        return (ups + t[common...].map(String.init)).joined(separator: "/")
    }

    public static func csv(_ m: Manifest) -> [UInt8] {
        let order = m.writeOrder.map { m.index(of: $0)! }
        var out: [UInt8] = []
        // Size the buffer from a sample of rows, so it is not regrown a dozen times.
        let sample = min(m.count, 256)
        var sampleBytes = 0
        for r in 0..<sample { for c in order { sampleBytes += m.cells[c][r].utf8.count + 1 } }
        out.reserveCapacity(sample > 0 ? sampleBytes / sample * m.count * 11 / 10 + 4096 : 4096)
        func append(_ bytes: UnsafeBufferPointer<UInt8>) {
            var needsQuotes = !bytes.isEmpty && (bytes[0] == 0x20 || bytes[bytes.count - 1] == 0x20)
            if !needsQuotes {
                for u in bytes where u == 0x2C || u == 0x22 || u == 0x0A || u == 0x0D { needsQuotes = true; break }
            }
            if !needsQuotes { out.append(contentsOf: bytes); return }
            out.append(0x22)
            for u in bytes { if u == 0x22 { out.append(0x22) }; out.append(u) }
            out.append(0x22)
        }
        func field(_ s: String) {
            if s.utf8.withContiguousStorageIfAvailable(append) == nil {
                let copy = Array(s.utf8)
                copy.withUnsafeBufferPointer(append)
            }
        }
        for (k, c) in order.enumerated() { if k > 0 { out.append(0x2C) }; field(m.columns[c]) }
        out.append(0x0A)
        for r in 0..<m.count {
            for (k, c) in order.enumerated() { if k > 0 { out.append(0x2C) }; field(m.cells[c][r]) }
            out.append(0x0A)
        }
        return out
    }

    public static func jsonLines(_ m: Manifest) -> [UInt8] {
        let order = m.writeOrder.map { m.index(of: $0)! }
        let keys = order.map { jsonString(m.columns[$0]) }
        let numeric = order.map { m.columns[$0] == "weight" || m.columns[$0] == "source_row" }
        var out: [UInt8] = []
        out.reserveCapacity(m.count * 96)
        for r in 0..<m.count {
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, c) in order.enumerated() {
                let v = m.cells[c][r]
                if numeric[k] && v.isEmpty { continue }
                if !first { out.append(contentsOf: ", ".utf8) }
                first = false
                out.append(contentsOf: keys[k].utf8)
                out.append(contentsOf: ": ".utf8)
                out.append(contentsOf: (numeric[k] ? jsonNumber(v) : jsonString(v)).utf8)
            }
            out.append(contentsOf: "}\n".utf8)
        }
        return out
    }

    /// A JSON string literal.
    /// A weight or source_row as JSON writes numbers: a CSV's `.5`, `+1` or `007` (numbers the
    /// CSV reader takes) become `0.5`, `1` and `7`; a value already in JSON's form is kept as is.
    static func jsonNumber(_ v: String) -> String {
        if isJSONNumber(v) { return v }
        if let i = Int(v) { return String(i) }
        if let d = Double(v), d.isFinite { return JSONValue.format(d) }
        return jsonString(v)
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    static func isJSONNumber(_ v: String) -> Bool {
        let u = Array(v.utf8)
        var i = 0
        func digits() -> Int { let s = i; while i < u.count, (48...57).contains(u[i]) { i += 1 }; return i - s }
        if i < u.count, u[i] == 0x2D { i += 1 }
        if i < u.count, u[i] == 0x30 { i += 1 } else if digits() == 0 { return false }
        if i < u.count, u[i] == 0x2E { i += 1; if digits() == 0 { return false } }
        if i < u.count, u[i] == 0x65 || u[i] == 0x45 {
            i += 1
            if i < u.count, u[i] == 0x2B || u[i] == 0x2D { i += 1 }
            if digits() == 0 { return false }
        }
        return i == u.count
    }

    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
