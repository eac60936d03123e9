import DatasetCatalog
import Foundation
import NeuralNet

public struct SplitResult: Sendable {
    public var manifests: [Manifest]
    public var names: [String]
    public var cellNames: [String]
    /// Rows per cell per split, and the targets the ratios give.
    public var counts: [[Int]]
    public var targets: [[Int]]
    /// Duplicate clusters of the catalog whose files the manifest names (two or more of them).
    public var clustersKeptWhole: Int
    /// Files named on more than one row, whose rows are kept in one split.
    public var sharedFiles: Int
    public var warnings: [String]
}

public enum Splitter {
    public static let names = ["train", "val", "test"]

    /// Each cell's rows divided by the ratios (largest remainder, so within one row), every
    /// non-empty cell in train, and every group of rows that share an image (the same file, or
    /// files in one duplicate cluster from the catalog) kept in one split.
    public static func split(_ m: Manifest, cells: Cells, ratios: [Double], seed: UInt64, duplicateClusters: [[String]]) throws -> SplitResult {
        guard ratios.count == 3, ratios.allSatisfy({ $0 >= 0 && $0.isFinite }), ratios.reduce(0, +) > 0 else {
            throw CurationError("--ratios needs three non-negative numbers (train, val, test), for example 0.8,0.1,0.1")
        }
        let total = ratios.reduce(0, +)
        let r = ratios.map { $0 / total }
        guard r[0] > 0 else { throw CurationError("the train ratio must be positive: every cell must be present in train") }
        // Units: rows joined by a shared file or a duplicate cluster (union-find).
        var parent = Array(0..<m.count)
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
            return x
        }
        func union(_ a: Int, _ b: Int) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        // A file's key: its path relative to the manifest's folder when it is inside it (as
        // written, for plain relative paths: no string building for most rows), else resolved.
        let basePrefix = m.baseDirectory + "/"
        func key(_ resolved: String) -> String {
            resolved.hasPrefix(basePrefix) ? String(resolved.dropFirst(basePrefix.count)) : resolved
        }
        let pathCells = m.column("path")!
        var firstRowOfPath: [String: Int] = [:]
        firstRowOfPath.reserveCapacity(m.count)
        var shared = Set<Int>()  // first rows of files named again
        for row in 0..<m.count {
            let raw = pathCells[row]
            let k = !raw.hasPrefix("/") && !Manifest.hasDotSegments(raw) ? raw : key(m.resolvedPath(row))
            if let f = firstRowOfPath[k] { union(f, row); shared.insert(f) } else { firstRowOfPath[k] = row }
        }
        var joined = 0
        for cluster in duplicateClusters {
            let rows = cluster.compactMap { firstRowOfPath[key($0)] }
            if rows.count > 1 { joined += 1 }
            for x in rows.dropFirst() { union(rows[0], x) }
        }
        // Units (numbered in order of their first row) and their sizes; each belongs to the
        // cell of its first row.
        var unitOfRoot = [Int32](repeating: -1, count: m.count)
        var unitOfRow = [Int32](repeating: 0, count: m.count)
        var unitSize: [Int] = []
        var unitsOfCell = [[Int32]](repeating: [], count: cells.names.count)
        for row in 0..<m.count {
            let root = find(row)
            if unitOfRoot[root] < 0 {
                unitOfRoot[root] = Int32(unitSize.count)
                unitsOfCell[Int(cells.cellOfRow[row])].append(Int32(unitSize.count))
                unitSize.append(0)
            }
            unitOfRow[row] = unitOfRoot[root]
            unitSize[Int(unitOfRow[row])] += 1
        }
        var splitOfUnit = [UInt8](repeating: 0, count: unitSize.count)
        var counts = [[Int]](repeating: [0, 0, 0], count: cells.names.count)
        var targets = counts
        var warnings: [String] = []
        var extras = [0, 0, 0]
        for (c, units) in unitsOfCell.enumerated() {
            let n = units.reduce(0) { $0 + unitSize[Int($1)] }
            targets[c] = largestRemainder(n, r, extras: &extras)
            var rng = Cells.rng(seed: seed, cell: c, purpose: 0x5917)
            let order = rng.permutation(units.count)
            // Biggest units first (ties in the seeded order), each to the split furthest below target.
            let sorted = units.allSatisfy({ unitSize[Int($0)] == 1 }) ? order
                : order.sorted { unitSize[Int(units[$0])] > unitSize[Int(units[$1])] }
            for u in sorted {
                let size = unitSize[Int(units[u])]
                var best = 0, bestDeficit = -Double.infinity
                for s in 0..<3 {
                    let d = Double(targets[c][s] - counts[c][s]) / Double(size)
                    if d > bestDeficit { best = s; bestDeficit = d }
                }
                if counts[c][0] == 0 && targets[c][0] > 0 && best != 0 && targets[c][0] - counts[c][0] > 0 { best = 0 }
                counts[c][best] += size
                splitOfUnit[Int(units[u])] = UInt8(best)
            }
        }
        // The counts reported are each cell's own rows: a unit can hold rows of several cells
        // (one image named under two labels), which go where the unit goes.
        var assigned = [[Int]](repeating: [], count: 3)
        counts = [[Int]](repeating: [0, 0, 0], count: cells.names.count)
        for row in 0..<m.count {
            let split = Int(splitOfUnit[Int(unitOfRow[row])])
            assigned[split].append(row)
            counts[Int(cells.cellOfRow[row])][split] += 1
        }
        let sizes = cells.sizes
        for c in cells.names.indices {
            let n = sizes[c]
            if n != targets[c].reduce(0, +) { targets[c] = largestRemainder(n, r, extras: &extras) }
            if counts[c][0] == 0 && n > 0 {
                warnings.append("cell \(cells.names[c]) has no row in train")
            }
            if (0..<3).contains(where: { abs(counts[c][$0] - targets[c][$0]) > 1 }) {
                warnings.append("cell \(cells.names[c]): \(counts[c]) rows against targets \(targets[c]), because rows sharing an image stay together")
            }
        }
        let manifests = (0..<3).map { s -> Manifest in
            var out = m.selecting(assigned[s])
            out.setColumn("split", [String](repeating: names[s], count: out.count))
            return out
        }
        return SplitResult(manifests: manifests, names: names, cellNames: cells.names, counts: counts, targets: targets,
                           clustersKeptWhole: joined, sharedFiles: shared.count, warnings: warnings)
    }

    /// n divided by the ratios: floors, then the largest fractional parts get the rest; ties go
    /// to the split that has had the fewest such extra rows so far (`extras`, kept across
    /// cells, so the totals stay near the ratios too); train gets at least one row when n > 0.
    public static func largestRemainder(_ n: Int, _ r: [Double], extras: inout [Int]) -> [Int] {
        let exact = r.map { $0 * Double(n) }
        var out = exact.map { Int($0.rounded(.down)) }
        var left = n - out.reduce(0, +)
        let ex = extras
        let order = exact.indices.sorted {
            let (fa, fb) = (exact[$0] - Double(out[$0]), exact[$1] - Double(out[$1]))
            if abs(fa - fb) > 1e-9 { return fa > fb }
            return (ex[$0], $0) < (ex[$1], $1)
        }
        var i = 0
        while left > 0 {
            out[order[i % order.count]] += 1
            extras[order[i % order.count]] += 1
            left -= 1
            i += 1
        }
        if n > 0 && out[0] == 0 {
            let from = out.indices.max { out[$0] < out[$1] }!
            out[from] -= 1
            out[0] += 1
        }
        return out
    }
}

extension Splitter {
    public static func largestRemainder(_ n: Int, _ r: [Double]) -> [Int] {
        var extras = [Int](repeating: 0, count: r.count)
        return largestRemainder(n, r, extras: &extras)
    }
}
