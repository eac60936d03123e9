import Foundation

/// A dataset manifest held in memory, column by column (see `shared/spec/manifest.md`).
///
/// Every cell is kept as the string the file held; `weights` and `sourceRows` parse the numeric
/// columns, which reading has already validated. An empty cell means unknown.
public struct Manifest: Sendable, Equatable {
    /// Columns with a meaning of their own; every other column is an attribute.
    public static let reservedColumns: Set<String> = ["path", "label", "split", "origin", "weight", "source_row"]
    /// The order columns are written in when present; attributes follow in their own order.
    public static let standardOrder = ["path", "label", "split", "origin", "weight", "source_row"]

    public private(set) var columns: [String]
    /// `cells[c][r]` is column `c` of row `r`.
    public private(set) var cells: [[String]]
    /// The folder relative paths resolve against (the manifest's folder).
    public var baseDirectory: String
    public private(set) var count: Int
    /// The file line each row started on, when the manifest was read from a file (nil for one
    /// built in memory, and after rows are added). Not part of equality.
    public var sourceLines: [Int32]?

    public static func == (a: Manifest, b: Manifest) -> Bool {
        a.columns == b.columns && a.cells == b.cells && a.baseDirectory == b.baseDirectory
    }

    /// Where row `r` is, for messages: "line L" of the file it was read from, else "row N"
    /// (1-based, the header not counted).
    public func place(_ r: Int) -> String {
        if let lines = sourceLines, r >= 0, r < lines.count { return "line \(lines[r])" }
        return "row \(r + 1)"
    }

    public init(columns: [String], cells: [[String]], baseDirectory: String) {
        precondition(columns.count == cells.count, "one cell array per column")
        let n = cells.first?.count ?? 0
        precondition(cells.allSatisfy { $0.count == n }, "columns must have equal lengths")
        self.columns = columns
        self.cells = cells
        self.baseDirectory = baseDirectory
        self.count = n
    }

    /// An empty manifest with these columns.
    public init(columns: [String], baseDirectory: String) {
        self.init(columns: columns, cells: columns.map { _ in [] }, baseDirectory: baseDirectory)
    }

    public func index(of column: String) -> Int? { columns.firstIndex(of: column) }

    public func has(_ column: String) -> Bool { columns.contains(column) }

    /// The cells of a column, or nil when the manifest has no such column.
    public func column(_ name: String) -> [String]? { index(of: name).map { cells[$0] } }

    /// The attribute columns: every column that is not reserved.
    public var attributes: [String] { columns.filter { !Self.reservedColumns.contains($0) } }

    /// The cell of `column` in `row` ("" when the column is absent).
    public func value(_ column: String, row: Int) -> String {
        guard let c = index(of: column) else { return "" }
        return cells[c][row]
    }

    /// Row `r` as a dictionary.
    public func row(_ r: Int) -> [String: String] {
        Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($0.element, cells[$0.offset][r]) })
    }

    /// The image path of row `r`, resolved against the manifest's folder.
    /// `.` and `..` segments are resolved, so that every manifest naming a file gives the
    /// same string for it (the scan catalog's key).
    public func resolvedPath(_ r: Int) -> String {
        Self.resolve(value("path", row: r), in: baseDirectory)
    }

    /// Every row's `resolvedPath`, the path column looked up once.
    public func resolvedPaths() -> [String] {
        let column = column("path") ?? [String](repeating: "", count: count)
        return column.map { Self.resolve($0, in: baseDirectory) }
    }

    static func resolve(_ p: String, in baseDirectory: String) -> String {
        // Bytes, not `hasPrefix` and `+`: those compare by Unicode rules and build a temporary
        // string, several times the cost of the rest for a scan's 10,000 rows.
        var joined = p
        if p.utf8.first != UInt8(ascii: "/") && !baseDirectory.isEmpty {
            joined = String()
            joined.reserveCapacity(baseDirectory.utf8.count + 1 + p.utf8.count)
            joined.append(baseDirectory)
            joined.append("/")
            joined.append(p)
        }
        guard Manifest.hasDotSegments(joined) else { return joined }
        return Manifest.normalize(joined)
    }

    /// Whether a path has "." or ".." segments or an empty one ("//"), by a byte scan.
    public static func hasDotSegments(_ path: String) -> Bool {
        var previous: UInt8 = 0x2F   // as if preceded by "/" (a leading "/" is not an empty segment)
        var first = true
        for u in path.utf8 {
            if previous == 0x2F && (u == 0x2E || (u == 0x2F && !first)) { return true }
            previous = u
            first = false
        }
        return false
    }

    /// Lexical normalisation: empty and `.` segments dropped, `..` removes the segment before it.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        let absolute = path.hasPrefix("/")
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else if segment == ".." && absolute {
                continue
            } else {
                parts.append(segment)
            }
        }
        let body = parts.joined(separator: "/")
        return absolute ? "/" + body : (body.isEmpty ? "." : body)
    }

    /// Sample weights (1 where the column or the cell is absent).
    public var weights: [Double] {
        guard let c = index(of: "weight") else { return [Double](repeating: 1, count: count) }
        return cells[c].map { $0.isEmpty ? 1 : (Double($0) ?? 1) }
    }

    /// `source_row` values (nil where absent).
    public var sourceRows: [Int?] {
        guard let c = index(of: "source_row") else { return [Int?](repeating: nil, count: count) }
        return cells[c].map { Int($0) }
    }

    /// `origin` with its default: "real" where absent or empty.
    public var origins: [String] {
        guard let c = index(of: "origin") else { return [String](repeating: "real", count: count) }
        return cells[c].map { $0.isEmpty ? "real" : $0 }
    }

    /// Adds a row; missing columns get empty cells. Unknown keys are an error of the caller.
    public mutating func append(_ row: [String: String]) {
        for (c, name) in columns.enumerated() { cells[c].append(row[name] ?? "") }
        count += 1
        sourceLines = nil
    }

    /// Adds a row given in column order.
    public mutating func append(cells row: [String]) {
        precondition(row.count == columns.count)
        for c in 0..<columns.count { cells[c].append(row[c]) }
        count += 1
        sourceLines = nil
    }

    /// Sets (or adds, at the end) a column.
    public mutating func setColumn(_ name: String, _ values: [String]) {
        precondition(values.count == count, "column \(name) needs \(count) cells")
        if let c = index(of: name) { cells[c] = values } else { columns.append(name); cells.append(values) }
    }

    public mutating func removeColumn(_ name: String) {
        guard let c = index(of: name) else { return }
        columns.remove(at: c)
        cells.remove(at: c)
    }

    /// The columns in the order they are written: the standard ones first, then attributes.
    public var writeOrder: [String] {
        Self.standardOrder.filter(has) + columns.filter { !Self.reservedColumns.contains($0) }
    }

    /// Throws unless the manifest has `column` (for commands that need a label, say).
    public func require(_ column: String, file: String) throws {
        guard has(column) else {
            throw ManifestError(file: file, "missing required column '\(column)' (columns: \(columns.joined(separator: ", ")))")
        }
    }
}
