import DatasetCatalog
import Foundation
import NeuralNet

/// What a strategy produced and how it did against what was asked.
public struct CurationResult: Sendable {
    public var manifest: Manifest
    public var cellNames: [String]
    public var before: [Int]
    public var after: [Int]
    public var parameters: [(String, JSONValue)]
    public var asked: [(String, JSONValue)]
    public var achieved: [(String, JSONValue)]
    public var warnings: [String]
}

public enum Strategies {
    /// The most rows a strategy that adds rows may produce.
    public static let maxRows = 100_000_000

    /// Every cell cut to `perCell` rows (default: the smallest cell's size), uniformly at
    /// random without replacement; rows keep their manifest order.
    public static func undersample(_ m: Manifest, cells: Cells, perCell: Int?, seed: UInt64) throws -> CurationResult {
        let target = perCell ?? cells.sizes.min() ?? 0
        guard target > 0 else { throw CurationError("the target of \(target) rows per cell would empty the set") }
        var rows: [Int] = []
        var warnings: [String] = []
        for (c, members) in cells.members.enumerated() {
            if members.count < target {
                warnings.append("cell \(cells.names[c]) has \(members.count) row\(members.count == 1 ? "" : "s"), fewer than \(target): all kept")
                rows += members
                continue
            }
            var rng = Cells.rng(seed: seed, cell: c, purpose: 0x0D5)
            let pick = rng.permutation(members.count).prefix(target)
            rows += pick.map { members[$0] }
        }
        rows.sort()
        let out = m.selecting(rows)
        return result(m, cells, out, rows, parameters: [("per_cell", perCell.map { .int($0) } ?? .null)],
                      asked: [("per_cell", .int(target))], achieved: [("per_cell_min", .int(countAfter(cells, rows).min() ?? 0)),
                                                                       ("per_cell_max", .int(countAfter(cells, rows).max() ?? 0))], warnings: warnings)
    }

    /// Every cell raised to `perCell` rows (default: the largest cell's size) by drawing extra
    /// rows with replacement; the originals are all kept, weights carried along.
    public static func oversample(_ m: Manifest, cells: Cells, perCell: Int?, seed: UInt64) throws -> CurationResult {
        let target = perCell ?? cells.sizes.max() ?? 0
        guard target > 0 else { throw CurationError("the target of \(target) rows per cell would empty the set") }
        // Refused before any row is drawn: a mistyped target would otherwise fill memory.
        let total = cells.members.reduce(0) { $0 + max($1.count, target) }
        guard total <= maxRows else {
            throw CurationError("\(target) rows per cell would make \(total) rows, over the limit of \(maxRows)")
        }
        var rows: [Int] = []
        var warnings: [String] = []
        for (c, members) in cells.members.enumerated() {
            rows += members
            if members.count > target {
                warnings.append("cell \(cells.names[c]) already has \(members.count) row\(members.count == 1 ? "" : "s"), more than \(target): none dropped")
                continue
            }
            var rng = Cells.rng(seed: seed, cell: c, purpose: 0x05A)
            for _ in 0..<(target - members.count) { rows.append(members[rng.below(members.count)]) }
        }
        rows.sort()
        let out = m.selecting(rows)
        let after = countAfter(cells, rows)
        return result(m, cells, out, rows, parameters: [("per_cell", perCell.map { .int($0) } ?? .null)],
                      asked: [("per_cell", .int(target))], achieved: [("per_cell_min", .int(after.min() ?? 0)), ("per_cell_max", .int(after.max() ?? 0))],
                      warnings: warnings)
    }

    public enum ReweightMethod: String, CaseIterable, Sendable { case reweighing, groupBalanced = "group-balanced", sqrt }

    /// Keeps every row; multiplies its weight by a factor normalised so the total weight is
    /// unchanged (weighted mean 1): AIF360's P(y)P(a)/P(y,a) (`label` against the joint of
    /// the other `--by` columns), 1/n_g or 1/sqrt(n_g) over the cells.
    public static func reweight(_ m: Manifest, cells: Cells, method: ReweightMethod, labelColumn: String) throws -> CurationResult {
        let w = m.weights
        let n = m.count
        var factor = [Double](repeating: 1, count: n)
        var cellWeight = [Double](repeating: 0, count: cells.names.count)
        for r in 0..<n { cellWeight[Int(cells.cellOfRow[r])] += w[r] }
        let total = w.reduce(0, +)
        guard total > 0 else { throw CurationError("the weights sum to 0") }
        switch method {
        case .reweighing:
            guard let li = cells.columns.firstIndex(of: labelColumn), cells.columns.count >= 2 else {
                throw CurationError(cells.columns.contains(labelColumn)
                    ? "--method reweighing needs at least one attribute in --by besides the label '\(labelColumn)' (for example --by \(labelColumn),gender)"
                    : "--method reweighing weighs label x attribute cells: put the label column in --by too (--by \(([labelColumn] + cells.columns).joined(separator: ",")))")
            }
            // P(y), P(a) over the joint of the other columns, P(y, a) = the cell.
            var py: [String: Double] = [:], pa: [String: Double] = [:]
            for (c, v) in cells.values.enumerated() {
                let a = v.enumerated().filter { $0.offset != li }.map(\.element).joined(separator: "\u{1F}")
                py[v[li], default: 0] += cellWeight[c]
                pa[a, default: 0] += cellWeight[c]
            }
            let cellFactor = cells.values.enumerated().map { c, v -> Double in
                let a = v.enumerated().filter { $0.offset != li }.map(\.element).joined(separator: "\u{1F}")
                return cellWeight[c] > 0 ? (py[v[li]]! / total) * (pa[a]! / total) / (cellWeight[c] / total) : 0
            }
            for r in 0..<n { factor[r] = cellFactor[Int(cells.cellOfRow[r])] }
        case .groupBalanced, .sqrt:
            let f = cellWeight.map { $0 > 0 ? (method == .sqrt ? 1 / $0.squareRoot() : 1 / $0) : 0 }
            for r in 0..<n { factor[r] = f[Int(cells.cellOfRow[r])] }
        }
        let scaled = (0..<n).reduce(0.0) { $0 + w[$1] * factor[$1] }
        let norm = scaled > 0 ? total / scaled : 1
        let newWeights = (0..<n).map { w[$0] * factor[$0] * norm }
        let rows = Array(0..<n)
        let out = m.selecting(rows, weights: newWeights)
        var after = [Double](repeating: 0, count: cells.names.count)
        for r in 0..<n { after[Int(cells.cellOfRow[r])] += newWeights[r] }
        return result(m, cells, out, rows, parameters: [("method", .string(method.rawValue))], asked: [("total_weight", .number(total))],
                      achieved: [("total_weight", .number(newWeights.reduce(0, +))),
                                 ("cell_weights", .object(zip(cells.names, after).map { ($0, .number($1)) }))], warnings: [])
    }

    static func countAfter(_ cells: Cells, _ rows: [Int]) -> [Int] {
        var counts = [Int](repeating: 0, count: cells.names.count)
        for r in rows { counts[Int(cells.cellOfRow[r])] += 1 }
        return counts
    }

    static func result(_ m: Manifest, _ cells: Cells, _ out: Manifest, _ rows: [Int], parameters: [(String, JSONValue)],
                       asked: [(String, JSONValue)], achieved: [(String, JSONValue)], warnings: [String]) -> CurationResult {
        CurationResult(manifest: out, cellNames: cells.names, before: cells.sizes, after: countAfter(cells, rows),
                       parameters: parameters, asked: asked, achieved: achieved, warnings: warnings)
    }
}
