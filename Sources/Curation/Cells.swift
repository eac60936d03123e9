import DatasetCatalog
import Foundation
import NeuralNet

/// A curation problem the data cannot satisfy, or bad input: always stated, never silent.
public struct CurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The rows of a manifest grouped by the joint values of `--by` columns.
public struct Cells: Sendable {
    public var columns: [String]
    /// Cell names, `col=value,col=value`, sorted.
    public var names: [String]
    /// Each cell's values per column.
    public var values: [[String]]
    /// Each cell's rows, in manifest order.
    public var members: [[Int]]
    /// The cell of each row.
    public var cellOfRow: [Int32]

    public var sizes: [Int] { members.map(\.count) }

    /// Combinations of the columns' values that no row has (at most `limit` of them, in sorted
    /// order, and how many in all): a strategy cannot fill or weigh a cell that is not there.
    public func absentCombinations(limit: Int = 5) -> (names: [String], count: Int) {
        let distinct = columns.indices.map { k in Array(Set(values.map { $0[k] })).sorted() }
        let total = distinct.reduce(1) { $0.multipliedReportingOverflow(by: $1.count).overflow ? Int.max : $0 * $1.count }
        let absent = total == Int.max ? Int.max : total - values.count
        guard absent > 0 else { return ([], 0) }
        var names: [String] = []
        let present = Set(values)
        func walk(_ prefix: [String]) {
            guard names.count < limit else { return }
            if prefix.count == columns.count {
                if !present.contains(prefix) { names.append(zip(columns, prefix).map { "\($0)=\($1)" }.joined(separator: ",")) }
                return
            }
            for v in distinct[prefix.count] { walk(prefix + [v]); if names.count >= limit { return } }
        }
        if total <= 1 << 20 { walk([]) }
        return (names, absent)
    }

    /// - Throws: `CurationError` for an unknown column or a row with an empty value in one.
    public init(_ manifest: Manifest, by columns: [String], file: String) throws {
        guard !columns.isEmpty else { throw CurationError("name the cells' columns with --by") }
        var cells: [[String]] = []
        for c in columns {
            guard let v = manifest.column(c) else {
                throw CurationError("\(file): unknown column '\(c)' (the manifest has \(manifest.columns.joined(separator: ", ")))")
            }
            if let r = v.firstIndex(where: \.isEmpty) {
                throw CurationError("\(file): \(manifest.place(r)) has no value for '\(c)' (an empty cell is unknown; drop or tag such rows first)")
            }
            cells.append(v)
        }
        self.columns = columns
        // Each column as small integer codes (one dictionary lookup per row), then the joint
        // code in mixed radix: no per-row arrays.
        var columnValues: [[String]] = []
        var columnCodes: [[Int32]] = []
        for v in cells {
            var index: [String: Int32] = [:]
            var values: [String] = []
            let codes = v.map { s -> Int32 in
                if let c = index[s] { return c }
                let c = Int32(values.count)
                index[s] = c
                values.append(s)
                return c
            }
            columnValues.append(values)
            columnCodes.append(codes)
        }
        let radices = columnValues.map(\.count)
        var joint = [Int](repeating: 0, count: manifest.count)
        for (k, codes) in columnCodes.enumerated() {
            let radix = radices[k]
            codes.withUnsafeBufferPointer { c in
                for r in 0..<c.count { joint[r] = joint[r] * radix + Int(c[r]) }
            }
        }
        var cellIndex: [Int: Int32] = [:]
        var keys: [[String]] = []
        var raw = [Int32](repeating: 0, count: manifest.count)
        for r in 0..<manifest.count {
            if let c = cellIndex[joint[r]] {
                raw[r] = c
            } else {
                let c = Int32(keys.count)
                cellIndex[joint[r]] = c
                keys.append(columnCodes.indices.map { columnValues[$0][Int(columnCodes[$0][r])] })
                raw[r] = c
            }
        }
        let order = keys.indices.sorted { keys[$0].lexicographicallyPrecedes(keys[$1]) }
        var remap = [Int32](repeating: 0, count: keys.count)
        for (new, old) in order.enumerated() { remap[old] = Int32(new) }
        values = order.map { keys[$0] }
        names = values.map { zip(columns, $0).map { "\($0)=\($1)" }.joined(separator: ",") }
        var members = [[Int]](repeating: [], count: keys.count)
        cellOfRow = raw.map { remap[Int($0)] }
        for (r, c) in cellOfRow.enumerated() { members[Int(c)].append(r) }
        self.members = members
    }

    /// A per-cell random stream: cell c of `seed`, whatever the other cells draw.
    public static func rng(seed: UInt64, cell: Int, purpose: UInt64) -> SplitMix64 {
        SplitMix64(seed: seed, stream: purpose, UInt64(cell))
    }
}

extension Manifest {
    /// The rows `rows` (repeats allowed) as a new manifest, with `source_row` set to each
    /// row's index here and `weight` to `weights` (or carried over).
    public func selecting(_ rows: [Int], weights: [Double]? = nil) -> Manifest {
        var columns = self.columns.filter { $0 != "source_row" && $0 != "weight" }
        var cells = columns.map { c -> [String] in
            let all = self.column(c)!
            return rows.map { all[$0] }
        }
        let carried = self.weights
        let w = weights ?? rows.map { carried[$0] }
        columns.append("weight")
        cells.append(w.map(JSONValue.format))
        columns.append("source_row")
        cells.append(rows.map(String.init))
        return Manifest(columns: columns, cells: cells, baseDirectory: baseDirectory)
    }
}
